// Warm WASM time of single ONNX graphs (onnxruntime-web, 1 thread, as the CLI runs them), fed seeded random
// 0-255 inputs of each graph's declared shape (symbolic dims -> 1); graphs alternate per round so a busy machine
// slows them alike. Prints one JSON line per graph: median and fastest run.
//   node tools/experiments/graph_wasm_time.mjs ROUNDS RUNS_PER_ROUND A.onnx [B.onnx ...]
import fs from 'node:fs';
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;
const [rounds, runs, ...files] = process.argv.slice(2);
let seed = 1;
const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 255;
const graphs = [];
for (const file of files) {
  const session = await ort.InferenceSession.create(fs.readFileSync(file), { executionProviders: ['wasm'] });
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    feeds[meta.name] = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, random), dims);
  }
  await session.run(feeds); // cold run left out
  graphs.push({ file, session, feeds, ms: [] });
}
for (let r = 0; r < Number(rounds); r++)
  for (const g of graphs)
    for (let k = 0; k < Number(runs); k++) {
      const start = performance.now();
      await g.session.run(g.feeds);
      g.ms.push(performance.now() - start);
    }
for (const g of graphs) {
  const sorted = [...g.ms].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  console.log(JSON.stringify({ graph: g.file, runs: sorted.length, median_ms: +median.toFixed(1), min_ms: +sorted[0].toFixed(1) }));
}
