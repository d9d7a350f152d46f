/**
 * One benchmark case: upload inputs once, then for each graph kind (fused, core):
 *   1. first run of both sides (ORT's with per-op timestamp profiling on; it also compiles ORT's
 *      pipelines; ours were compiled at kernel creation) and the numerical check on their outputs;
 *   2. timed rounds, interleaved so background load hits both sides alike: per round our kernel
 *      `oursPerRound` times, then the ORT graph once, each timed to onSubmittedWorkDone.
 */
import type * as Ort from 'onnxruntime-web';
import { readFloat32 } from '../../src/gpu/buffers.js';
import { workOf, type BenchCase, type GraphKind } from './bench-case.js';
import type { CopyBandwidth } from './copy-bandwidth.js';
import { makeInputs, type BenchInputs } from './inputs.js';
import { createOrtGraph, profileOrtGraph, type OrtGraph, type OrtModule, type OrtProfile } from './ort-graph.js';
import { createOurKernel, type KernelBuffers, type KernelRun } from './ours.js';
import { repeat, summarize, type RepeatOptions } from './stats.js';

export interface CasePlan {
  kinds: GraphKind[];
  repeat: RepeatOptions;
  oursPerRound: number;
  tolerance: number;
  /** Profile ORT's first run per op (on SwiftShader its timestamps slow ORT ~2x: shares, not times). */
  profile: boolean;
}

export const log = (message: string) => console.log(`[bench] ${message}`);
export const fmt = (value: number | null | undefined): string => (value == null ? 'n/a' : value.toPrecision(4));

export async function benchCase(ort: OrtModule, device: GPUDevice, c: BenchCase, plan: CasePlan, copy: CopyBandwidth) {
  log(`${c.name}: S=${c.tokens} Lq=${c.queries} R=${c.referenceDim}, kinds ${plan.kinds.join('+')}: making inputs`);
  const buffers = uploadInputs(device, makeInputs(c), c);
  const outputElements = c.output.reduce((a, b) => a * b, 1);
  const graphs = new Map<GraphKind, OrtGraph>();
  for (const kind of plan.kinds) {
    const inputs = Object.fromEntries(
      Object.entries(c.inputs[kind]).map(([name, dims]) => [name, { buffer: bufferFor(buffers, name), dims }]),
    );
    graphs.set(kind, await createOrtGraph(ort, `/bench/graphs/${c.graphs[kind]}`, inputs));
  }
  const graph = (kind: GraphKind) => graphs.get(kind) ?? unreachable(kind);
  const ours = await createOurKernel(device, c, buffers);

  const maxAbsDiff: Record<string, number> = {};
  const profiles = new Map<GraphKind, OrtProfile>();
  const firstOrtWallMs = new Map<GraphKind, number>();
  for (const kind of plan.kinds) {
    log(`${c.name}: ours ${kind} first run ${fmt((await ours.run(kind)).wallMs)} ms`);
    const mine = await readFloat32(device, buffers.output, outputElements);
    const started = performance.now();
    const check = async (output: Ort.Tensor) => {
      maxAbsDiff[`${kind}: ours vs ORT`] = largestDifference(mine, (await output.getData()) as Float32Array);
    };
    if (plan.profile) {
      const profile = await profileOrtGraph(ort, device, graph(kind), 1, check);
      profiles.set(kind, profile);
      log(
        `${c.name}: ORT ${kind} first run (profiled, compiles) ${fmt(performance.now() - started)} ms; GPU ${fmt(profile.totalGpuMs)} ms: ` +
          profile.ops.map((op) => `${op.opType} ${fmt(op.gpuMs)}`).join(', '),
      );
    } else {
      const output = await graph(kind).run();
      await device.queue.onSubmittedWorkDone();
      firstOrtWallMs.set(kind, performance.now() - started);
      await check(output);
      output.dispose();
      log(`${c.name}: ORT ${kind} first run (compiles) ${fmt(firstOrtWallMs.get(kind))} ms`);
    }
  }
  const passed = Object.values(maxAbsDiff).every((d) => d <= plan.tolerance);
  log(`${c.name}: max |diff| ${JSON.stringify(maxAbsDiff)} (tolerance ${plan.tolerance}) ${passed ? 'OK' : 'FAILED'}`);

  const { warmup, minIterations, maxIterations, budgetMs } = plan.repeat;
  log(`${c.name}: timing (warmup ${warmup}, ${minIterations}..${maxIterations} rounds, budget ${budgetMs} ms)`);
  const rounds = await repeat(async () => {
    const round = new Map<GraphKind, { ours: KernelRun[]; ortWallMs: number }>();
    for (const kind of plan.kinds) {
      const mine: KernelRun[] = [];
      for (let i = 0; i < plan.oursPerRound; i++) mine.push(await ours.run(kind));
      const started = performance.now();
      const output = await graph(kind).run();
      await device.queue.onSubmittedWorkDone();
      const ortWallMs = performance.now() - started;
      output.dispose();
      round.set(kind, { ours: mine, ortWallMs });
      log(`${c.name}: ${kind}: ours ${mine.map((r) => fmt(r.gpuMs ?? r.wallMs)).join(' ')} ms, ORT ${fmt(ortWallMs)} ms`);
    }
    return round;
  }, plan.repeat);

  // Zero timed rounds (an ORT run takes minutes): ours is still timed, ORT's wall time is its
  // first, unprofiled run (compilation included; it was ~1 % of a run in our measurements), flagged.
  if (rounds.length === 0) {
    const round = new Map<GraphKind, { ours: KernelRun[]; ortWallMs: number }>();
    for (const kind of plan.kinds) {
      const mine: KernelRun[] = [];
      for (let i = 0; i < plan.oursPerRound; i++) mine.push(await ours.run(kind));
      round.set(kind, { ours: mine, ortWallMs: firstOrtWallMs.get(kind) ?? Number.NaN });
      log(`${c.name}: ${kind}: ours ${mine.map((r) => fmt(r.gpuMs ?? r.wallMs)).join(' ')} ms; ORT wall = its first run`);
    }
    rounds.push(round);
  }
  const ortWallFromFirstRun = plan.repeat.maxIterations === 0;
  if (ortWallFromFirstRun && plan.profile)
    throw new Error(`${c.name}: zero timed rounds need profile: false (a profiled run is not a timing)`);
  const results = Object.fromEntries(
    plan.kinds.map((kind) => [kind, { ...summarizeKind(c, kind, rounds, profiles.get(kind), copy), ortWallFromFirstRun }]),
  );
  ours.dispose();
  for (const g of graphs.values()) await g.dispose();
  for (const buffer of Object.values(buffers)) buffer.destroy();
  return {
    name: c.name,
    shape: {
      levels: c.levels,
      tokens: c.tokens,
      queries: c.queries,
      referenceDim: c.referenceDim,
      batch: c.batch,
      heads: c.heads,
      headDim: c.headDim,
      points: c.points,
    },
    rounds: rounds.length,
    oursPerRound: plan.oursPerRound,
    check: { maxAbsDiff, tolerance: plan.tolerance, passed },
    ...results,
  };
}

function summarizeKind(
  c: BenchCase,
  kind: GraphKind,
  rounds: Map<GraphKind, { ours: KernelRun[]; ortWallMs: number }>[],
  ortProfile: OrtProfile | undefined,
  copy: CopyBandwidth,
) {
  const mine = rounds.flatMap((r) => r.get(kind)?.ours ?? []);
  const gpu = mine.flatMap((r) => (r.gpuMs === null ? [] : [r.gpuMs]));
  const oursWallMs = summarize(mine.map((r) => r.wallMs));
  const oursGpuMs = gpu.length > 0 ? summarize(gpu) : null;
  const ortWallMs = summarize(rounds.map((r) => r.get(kind)?.ortWallMs ?? Number.NaN));
  const ortGpuMs = ortProfile?.totalGpuMs ?? null;
  const work = workOf(c, kind);
  const oursMs = oursGpuMs?.median ?? oursWallMs.median;
  const copyGBps = copy.shaderGpuGBps ?? copy.shaderWallGBps;
  const gbps = (bytes: number) => bytes / (oursMs * 1e6);
  return {
    oursWallMs,
    oursGpuMs,
    ortWallMs,
    ortGpuMs,
    wallRatio: ortWallMs.median / oursWallMs.median,
    gpuRatio: oursGpuMs && ortGpuMs !== null ? ortGpuMs / oursGpuMs.median : null,
    work,
    roofline: {
      timeBasis: oursGpuMs ? 'gpu timestamp' : 'wall',
      compulsoryGBps: gbps(work.compulsoryBytes),
      gatheredGBps: gbps(work.gatheredBytes),
      gflops: work.flops / (oursMs * 1e6),
      fractionOfCopyBandwidth: gbps(work.compulsoryBytes) / copyGBps,
      gatheredFractionOfCopyBandwidth: gbps(work.gatheredBytes) / copyGBps,
    },
    ortProfile: ortProfile ?? null,
  };
}

function uploadInputs(device: GPUDevice, inputs: BenchInputs, c: BenchCase): KernelBuffers {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const upload = (name: string, data: Float32Array<ArrayBuffer>) => {
    const buffer = device.createBuffer({ label: `bench:${name}`, size: data.byteLength, usage });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  return {
    value: upload('value', inputs.value),
    referencePoints: upload('reference_points', inputs.referencePoints),
    samplingOffsets: upload('sampling_offsets', inputs.samplingOffsets),
    attentionLogits: upload('attention_logits', inputs.attentionLogits),
    samplingLocations: upload('sampling_locations', inputs.samplingLocations),
    attentionWeights: upload('attention_weights', inputs.attentionWeights),
    output: device.createBuffer({ label: 'bench:output', size: 4 * c.output.reduce((a, b) => a * b, 1), usage }),
  };
}

/** ONNX input names (snake_case, as exported) -> our buffers. */
function bufferFor(buffers: KernelBuffers, onnxName: string): GPUBuffer {
  const key = onnxName.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()) as keyof KernelBuffers;
  const buffer = buffers[key];
  if (!buffer) throw new Error(`no buffer for graph input ${onnxName}`);
  return buffer;
}

function largestDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return max;
}

function unreachable(kind: string): never {
  throw new Error(`graph ${kind} was not created`);
}
