// Runs the coco-ssd TF.js graph (tfjs CPU backend) on raw 300x300x3 int32 pictures and writes its raw outputs
// as float32 files, for the PyTorch port's parity check (tools/experiments/detector_ssdlite_fusion.py --parity).
// tfjs is not a dependency of this repository: TFJS_DIR names a folder whose node_modules holds
// @tensorflow/tfjs-core, -backend-cpu and -converter (4.x).
//   TFJS_DIR=/path node ssdlite_tfjs_parity.mjs MODEL_JSON OUT_DIR IN1.i32 [IN2.i32 ...]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.TFJS_DIR ?? process.cwd(), 'package.json'));
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { loadGraphModel } = require('@tensorflow/tfjs-converter');

const [modelJson, outDir, ...inputs] = process.argv.slice(2);
const OUTPUTS = ['Squeeze', 'concat_1', 'Postprocessor/Slice', 'Postprocessor/ExpandDims_1'];

// Weights from disk (loadGraphModel's file:// handler needs tfjs-node): topology + concatenated shards.
const handler = {
  load: async () => {
    const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
    const weightSpecs = spec.weightsManifest.flatMap((g) => g.weights);
    const shards = spec.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelJson), p))));
    const all = Buffer.concat(shards);
    return { modelTopology: spec.modelTopology, weightSpecs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
  },
};
await tf.setBackend('cpu');
const model = await loadGraphModel(handler);
fs.mkdirSync(outDir, { recursive: true });
for (const input of inputs) {
  const data = new Int32Array(fs.readFileSync(input).buffer.slice(0));
  const x = tf.tensor(data, [1, 300, 300, 3], 'int32');
  const outs = await model.executeAsync(x, OUTPUTS);
  const stem = path.basename(input, '.i32');
  outs.forEach((t, k) => fs.writeFileSync(path.join(outDir, `${stem}.${k}.f32`), Buffer.from(t.dataSync().buffer)));
  console.log(stem, outs.map((t) => t.shape.join('x')).join(' '));
  tf.dispose([x, ...outs]);
}
