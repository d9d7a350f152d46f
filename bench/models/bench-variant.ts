/**
 * One model × one implementation: cold start (download from the local server with the HTTP cache
 * bypassed, session creation, first run to outputs), warm frames, one-shot re-queries, per-stage and
 * per-group medians, kernel pass timestamps, ORT per-op GPU profile (one extra frame), peak GPU bytes.
 *
 *   split-webgpu   our split pipeline: ORT WebGPU graphs + our WGSL kernel (createGpuPackageRunner)
 *   single-webgpu  the single-graph export (GridSample) on ORT's WebGPU EP (same runner, one graph stage)
 *   single-wasm    the single-graph export on ORT's WASM backend (createCpuPackageRunner)
 *   split-wasm     our split pipeline on the CPU: ORT WASM graphs + our WebAssembly kernel (createCpuPackageRunner),
 *                  with the CPU preprocessing (src/kernels/bilinear-cpu.ts) timed on the decoded picture
 */
import * as ort from 'onnxruntime-web';
import type { RunnerInput, HostTensor, PackageRunner, StageTiming } from '../../src/runtime/runner.js';
import type { Manifest } from '../../src/package/manifest.js';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu.js';
import { createGpuPackageRunner } from '../../src/runtime/package-runner-gpu.js';
import { graphsOfPipelines } from '../../src/package/pipeline-graphs.js';
import { resizeNormalizeCpu } from '../../src/kernels/bilinear-cpu.js';
import { repeat, summarize, type Summary } from '../kernels/stats.js';
import type { BufferBytes, BufferTracker } from './buffer-tracker.js';
import type { KernelTimestamps } from './kernel-timestamps.js';
import { groupTimes, medianByKey } from './stage-groups.js';

export type Variant = 'split-webgpu' | 'single-webgpu' | 'single-wasm' | 'split-wasm';

export interface VariantPlan {
  variant: Variant;
  rounds: number;
  /** Stop adding rounds (beyond 1) after this much time. */
  budgetMs: number;
  /** ORT's WebGPU per-op profiling on the first timed frame (WebGPU variants). */
  profile: boolean;
  /** Re-query rounds (one-shot split pipeline). */
  requeryRounds: number;
}

export interface VariantContext {
  manifest: Manifest;
  packageUrl: string;
  /** image (and patches) tensors, by input name. */
  inputs: Record<string, HostTensor>;
  tracker: BufferTracker;
  /** The decoded source picture and the model input size, for the CPU preprocessing timing of split-wasm. */
  picture?: { pixels: ImageData; width: number; height: number };
  timestamps: () => KernelTimestamps | undefined;
  onDevice: (device: GPUDevice) => void;
  log: (line: string) => void;
}

export interface VariantResult {
  variant: Variant;
  pipelines: string[];
  coldStart: { downloadMs: number; downloadBytes: number; createMs: number; firstRunMs: number; totalMs: number };
  frameMs: Summary;
  /** split-wasm: the CPU preprocessing of the picture to the model input (resize + normalize), not in frameMs. */
  preprocessMs?: Summary;
  /** One-shot split only: the patches pipeline alone, on the kept image encoding. */
  requeryMs?: Summary;
  stageMedianMs: Record<string, number>;
  groupMedianMs: Record<string, number>;
  /** Our kernel passes' GPU time (timestamp queries), median per stage; absent without the feature. */
  kernelGpuMedianMs?: Record<string, number>;
  /** ORT per-op-type GPU ms over the first timed frame (WebGPU EP timestamps). */
  ortOpGpuMs?: Record<string, number>;
  peakBufferBytes: BufferBytes;
  outputs: Record<string, HostTensor>;
}

const split = (v: Variant) => v === 'split-webgpu' || v === 'split-wasm';
const onWasm = (v: Variant) => v === 'single-wasm' || v === 'split-wasm';

function pipelinesFor(variant: Variant, manifest: Manifest): string[] {
  if (!split(variant)) return ['detect_single_graph'];
  return manifest.pipelines.some((p) => p.name === 'patches') ? ['image', 'patches'] : ['detect'];
}

async function download(url: string): Promise<Uint8Array> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

interface Frame {
  ms: number;
  stages: StageTiming[];
  outputs: Record<string, HostTensor>;
}

export async function benchVariant(plan: VariantPlan, context: VariantContext): Promise<VariantResult> {
  const { manifest, inputs, tracker, log } = context;
  const pipelines = pipelinesFor(plan.variant, manifest);
  tracker.resetPeak();
  let started = performance.now();
  const graphs = new Map<string, Uint8Array>();
  let downloadBytes = 0;
  for (const graph of graphsOfPipelines(manifest, pipelines)) {
    const bytes = await download(`${context.packageUrl}/${graph.file}`);
    graphs.set(graph.name, bytes);
    downloadBytes += bytes.byteLength;
  }
  const downloadMs = performance.now() - started;
  started = performance.now();
  let runner: PackageRunner;
  if (onWasm(plan.variant)) {
    runner = await createCpuPackageRunner({ manifest, graphs, pipelines });
  } else {
    const gpu = await createGpuPackageRunner({ manifest, graphs, pipelines });
    context.onDevice(gpu.device);
    runner = gpu;
  }
  const createMs = performance.now() - started;
  graphs.clear();

  const feeds = (names: readonly string[]): Record<string, RunnerInput> =>
    Object.fromEntries(names.map((name) => [name, inputs[name] as HostTensor]));
  const runPipeline = async (name: string): Promise<Frame> => {
    const pipeline = manifest.pipelines.find((p) => p.name === name);
    if (pipeline === undefined) throw new Error(`no pipeline ${name}`);
    const t0 = performance.now();
    const { outputs, stages } = await runner.run(name, feeds(pipeline.inputs));
    return { ms: performance.now() - t0, stages, outputs };
  };
  const frame = async (): Promise<Frame> => {
    const parts: Frame[] = [];
    for (const name of pipelines) parts.push(await runPipeline(name));
    const last = parts[parts.length - 1] as Frame;
    return { ms: parts.reduce((a, p) => a + p.ms, 0), stages: parts.flatMap((p) => p.stages), outputs: last.outputs };
  };

  try {
    const first = await frame();
    const coldStart = { downloadMs, downloadBytes, createMs, firstRunMs: first.ms, totalMs: downloadMs + createMs + first.ms };
    log(
      `${plan.variant}: first run: ${first.stages.map((s) => `${s.stage}${s.kind === 'graph' ? '' : '*'} ${s.ms.toFixed(0)}`).join(', ')}`,
    );
    log(
      `${plan.variant}: cold start ${(coldStart.totalMs / 1000).toFixed(1)} s (download ${downloadMs.toFixed(0)} ms, create ${createMs.toFixed(0)} ms, first run ${first.ms.toFixed(0)} ms)`,
    );

    const timestamps = plan.variant === 'split-webgpu' ? context.timestamps() : undefined;
    const kernelRuns: Record<string, number>[] = [];
    // ORT's per-op profile rides on the first timed frame (no extra frame: one takes minutes on
    // SwiftShader, and the budget may allow only one); that frame carries the profiling overhead.
    const profileOps = plan.profile && !onWasm(plan.variant);
    let ortOpGpuMs: Record<string, number> | undefined;
    const frames = await repeat(
      async () => {
        const perOp: Record<string, number> = {};
        if (profileOps && ortOpGpuMs === undefined) {
          ort.env.webgpu.profiling = {
            mode: 'default',
            ondata: (d) => {
              perOp[d.kernelType] = (perOp[d.kernelType] ?? 0) + (d.endTime - d.startTime) / 1e6;
            },
          };
          ortOpGpuMs = perOp;
        }
        timestamps?.arm();
        let f: Frame;
        try {
          f = await frame();
        } finally {
          ort.env.webgpu.profiling = { mode: 'off' };
        }
        if (timestamps !== undefined) kernelRuns.push(Object.fromEntries((await timestamps.collect()).map((t) => [t.stage, t.gpuMs])));
        log(
          `${plan.variant}: frame ${f.ms.toFixed(0)} ms: ${f.stages.map((s) => `${s.stage}${s.kind === 'graph' ? '' : '*'} ${s.ms.toFixed(0)}`).join(', ')}`,
        );
        return f;
      },
      { warmup: 0, minIterations: 1, maxIterations: plan.rounds, budgetMs: plan.budgetMs },
    );
    // Profiling timestamps arrive through mapAsync after the work.
    if (ortOpGpuMs !== undefined) await new Promise((resolve) => setTimeout(resolve, 1000));

    let requeryMs: Summary | undefined;
    if (pipelines.length === 2) {
      const requeries = await repeat(() => runPipeline(pipelines[1] as string), {
        warmup: 0,
        minIterations: 1,
        maxIterations: plan.requeryRounds,
        budgetMs: plan.budgetMs,
      });
      requeryMs = summarize(requeries.map((r) => r.ms));
      log(`${plan.variant}: re-query median ${requeryMs.median.toFixed(0)} ms`);
    }

    const median = (values: number[]) => summarize(values).median;
    const stageRuns = frames.map((f) =>
      Object.fromEntries(f.stages.map((s) => [`${s.kind === 'graph' ? 'graph' : 'kernel'}:${s.stage}`, s.ms])),
    );
    const result: VariantResult = {
      variant: plan.variant,
      pipelines,
      coldStart,
      frameMs: summarize(frames.map((f) => f.ms)),
      stageMedianMs: medianByKey(stageRuns, median),
      groupMedianMs: medianByKey(
        frames.map((f) => groupTimes(f.stages) as Record<string, number>),
        median,
      ),
      peakBufferBytes: tracker.peak(),
      outputs: first.outputs,
    };
    if (requeryMs !== undefined) result.requeryMs = requeryMs;
    const picture = context.picture;
    if (plan.variant === 'split-wasm' && picture !== undefined) {
      const options = { mode: 'pil' as const, mean: manifest.input.mean, std: manifest.input.std };
      const runs = await repeat(
        async () => {
          const t0 = performance.now();
          resizeNormalizeCpu(picture.pixels, picture.width, picture.height, options);
          return performance.now() - t0;
        },
        { warmup: 1, minIterations: 5, maxIterations: 9, budgetMs: 10_000 },
      );
      result.preprocessMs = summarize(runs);
    }
    if (kernelRuns.length > 0 && Object.keys(kernelRuns[0] ?? {}).length > 0) result.kernelGpuMedianMs = medianByKey(kernelRuns, median);
    if (ortOpGpuMs !== undefined) result.ortOpGpuMs = ortOpGpuMs;
    return result;
  } finally {
    await runner.dispose();
  }
}
