/**
 * The plain-ONNX side: one onnxruntime-web WebGPU session per graph, inputs given as GPU buffers
 * (Tensor.fromGpuBuffer) and the output kept on the GPU (preferredOutputLocation 'gpu-buffer'), so
 * no CPU upload or readback is timed. Per-op GPU times come from ORT's own timestamp profiling
 * (env.webgpu.profiling), switched on only for the profiling runs because it splits every dispatch
 * into its own timed pass.
 */
import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;

export interface OrtGraph {
  /** One run; resolves once ORT submitted all its work (the caller waits for the GPU). */
  run(): Promise<Ort.Tensor>;
  dispose(): Promise<void>;
}

export async function createOrtGraph(
  ort: OrtModule,
  url: string,
  inputs: Record<string, { buffer: GPUBuffer; dims: number[] }>,
): Promise<OrtGraph> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  const session = await ort.InferenceSession.create(new Uint8Array(await response.arrayBuffer()), {
    executionProviders: ['webgpu'],
    preferredOutputLocation: 'gpu-buffer',
    graphOptimizationLevel: 'all',
  });
  const feeds: Record<string, Ort.Tensor> = {};
  for (const [name, { buffer, dims }] of Object.entries(inputs)) {
    feeds[name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims });
  }
  return {
    async run() {
      const outputs = await session.run(feeds);
      const output = outputs[session.outputNames[0] ?? 'output'];
      if (!output) throw new Error(`${url}: the session returned no output`);
      if (output.location !== 'gpu-buffer') throw new Error(`${url}: output is on ${output.location}, expected gpu-buffer`);
      return output;
    },
    dispose: () => session.release(),
  };
}

export interface OpTime {
  /** ONNX op type (GridSample, Transpose, ...) */
  opType: string;
  /** GPU time of this op type's dispatches in one run, median over the profiled runs */
  gpuMs: number;
  dispatches: number;
}

export interface OrtProfile {
  runs: number;
  /** Sum of every dispatch's GPU time in one run (median over runs) */
  totalGpuMs: number;
  ops: OpTime[];
}

/**
 * Runs the graph `runs` times with ORT's timestamp profiling on and sums GPU time per op type.
 * `inspect` sees the first run's output before it is released (the numerical check).
 */
export async function profileOrtGraph(
  ort: OrtModule,
  device: GPUDevice,
  graph: OrtGraph,
  runs: number,
  inspect?: (output: Ort.Tensor) => Promise<void>,
): Promise<OrtProfile> {
  const events: Ort.Env.WebGpuProfilingData[] = [];
  ort.env.webgpu.profiling = { mode: 'default', ondata: (data) => events.push(data) };
  const perRun: Map<string, { ns: number; dispatches: number }>[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      events.length = 0;
      const output = await graph.run();
      await device.queue.onSubmittedWorkDone();
      await settle(() => events.length);
      if (r === 0 && inspect) await inspect(output);
      output.dispose();
      const byOp = new Map<string, { ns: number; dispatches: number }>();
      for (const e of events) {
        const entry = byOp.get(e.kernelType) ?? { ns: 0, dispatches: 0 };
        entry.ns += e.endTime - e.startTime;
        entry.dispatches += 1;
        byOp.set(e.kernelType, entry);
      }
      perRun.push(byOp);
    }
  } finally {
    ort.env.webgpu.profiling = { mode: 'off' };
  }
  const opTypes = [...new Set(perRun.flatMap((m) => [...m.keys()]))];
  const ops = opTypes
    .map((opType) => ({
      opType,
      gpuMs: median(perRun.map((m) => (m.get(opType)?.ns ?? 0) / 1e6)),
      dispatches: perRun[0]?.get(opType)?.dispatches ?? 0,
    }))
    .sort((a, b) => b.gpuMs - a.gpuMs);
  const totalGpuMs = median(perRun.map((m) => [...m.values()].reduce((s, v) => s + v.ns, 0) / 1e6));
  return { runs, totalGpuMs, ops };
}

/** Waits until `count()` stops growing (profiling data arrives through mapAsync after the work). */
async function settle(count: () => number, quietMs = 100, timeoutMs = 10_000) {
  const started = performance.now();
  let last = -1;
  while (performance.now() - started < timeoutMs) {
    const now = count();
    if (now > 0 && now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(mid)] ?? Number.NaN) + (sorted[Math.ceil(mid)] ?? Number.NaN)) / 2;
}
