/**
 * Browser side of e2e/faults.spec.ts: fault injection against the runtime on the tiny test package
 * (test/fixtures/packages/tiny). Every worker the page starts is recorded and named so the worker
 * installs its test hooks (src/worker/test-hooks.ts): the spec can terminate it, make it exit without
 * an error event, destroy its GPUDevice in the middle of a frame, or fail a GPU allocation as out of memory.
 */
import * as ort from 'onnxruntime-web';
import { createDetector } from '../../src/index.js';
import type { DetectorStats } from '../../src/api/types.js';
import { WebDetrError } from '../../src/errors.js';
import type { RunnerInput } from '../../src/runtime/runner.js';
import { parseManifest } from '../../src/package/manifest.js';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu.js';
import { createGpuPackageRunner } from '../../src/runtime/package-runner-gpu.js';
import { graphsOfPipelines } from '../../src/package/pipeline-graphs.js';
import type { TestHookMessage } from '../../src/worker/test-hooks.js';
import { workers } from './test-hook-workers.js';

export interface Outcome {
  /** 'resolved' or the error's class name. */
  name: string;
  code?: string;
  reason?: string;
  url?: string;
  message?: string;
  ms: number;
}

/** Timers started (and not yet fired or cleared) by anything in the page: none may outlive dispose. */
const openTimers = new Set<number>();
const nativeSetTimeout = globalThis.setTimeout;
const nativeClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((handler: TimerHandler, ms?: number, ...rest: unknown[]) => {
  const id = nativeSetTimeout(
    (...args: unknown[]) => {
      openTimers.delete(id);
      if (typeof handler === 'function') (handler as (...a: unknown[]) => void)(...args);
    },
    ms,
    ...rest,
  ) as unknown as number;
  openTimers.add(id);
  return id;
}) as typeof setTimeout;
globalThis.clearTimeout = ((id?: number) => {
  if (id !== undefined) openTimers.delete(id);
  nativeClearTimeout(id);
}) as typeof clearTimeout;
const nativeSetInterval = globalThis.setInterval;
let intervalsStarted = 0;
globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
  intervalsStarted++;
  return nativeSetInterval(...args);
}) as typeof setInterval;

async function settle<T>(work: Promise<T>): Promise<{ outcome: Outcome; value: T | undefined }> {
  const started = performance.now();
  try {
    const value = await work;
    return { outcome: { name: 'resolved', ms: performance.now() - started }, value };
  } catch (error) {
    const e = error as Partial<WebDetrError> & { reason?: string; url?: string };
    return {
      outcome: {
        name: e.name ?? String(error),
        ...(error instanceof WebDetrError ? { code: error.code } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.url ? { url: e.url } : {}),
        message: e.message ?? '',
        ms: performance.now() - started,
      },
      value: undefined,
    };
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

/** A deterministic 96x64 test picture. */
function testImage(width = 96, height = 64): ImageData {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    data.set([(x * 5 + y) % 256, (y * 7) % 256, (x * y) % 256, 255], i * 4);
  }
  return new ImageData(data, width, height);
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Counts onnxruntime sessions created and not yet released, in this page's JS context. */
function trackSessions(): () => number {
  let live = 0;
  const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (...args: unknown[]) => Promise<ort.InferenceSession>;
  (ort.InferenceSession as { create: unknown }).create = async (...args: unknown[]) => {
    const session = await create(...args);
    live++;
    const release = session.release.bind(session);
    session.release = async () => {
      live--;
      await release();
    };
    return session;
  };
  return () => live;
}
const liveSessions = trackSessions();

/** Buffers our GPU runner labels as its own, created on any device of this page. */
let runnerBuffersCreated = 0;
const createBuffer = GPUDevice.prototype.createBuffer;
GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
  if (/^(package-runner-gpu|ms_deform_attn)/.test(descriptor.label ?? '')) runnerBuffersCreated++;
  return createBuffer.call(this, descriptor);
};

export interface InvalidGraphResult {
  cases: { label: string; outcome: Outcome; liveSessions: number; runnerBuffersCreated: number }[];
  good: { outcome: Outcome; vsCpu: { logits: number; boxes: number }; uncapturedErrors: string[]; liveSessionsAfterDispose: number };
}

/** Item: a graph that passed its sha256 but is no ONNX -> ModelIntegrityError(invalid-graph); then a good runner in the same context works. */
async function gpuRunnerInvalidGraph(packageUrl: string): Promise<InvalidGraphResult> {
  ort.env.logLevel = 'error';
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await fetchBytes(`${packageUrl}/manifest.json`))));
  const pipelines = ['detect'];
  const graphs = new Map<string, Uint8Array>();
  for (const graph of graphsOfPipelines(manifest, pipelines)) graphs.set(graph.name, await fetchBytes(`${packageUrl}/${graph.file}`));
  const head = graphs.get('head') ?? new Uint8Array();
  const broken: [string, string, Uint8Array][] = [
    // First: ORT's WebGPU EP is not initialized yet in this context.
    ['backbone is HTML', 'backbone', new TextEncoder().encode('<!doctype html><title>404</title>')],
    // The backbone session is made first and must be released.
    ['head truncated to half', 'head', head.slice(0, head.length >> 1)],
    ['head is zeros', 'head', new Uint8Array(head.length)],
  ];
  const cases: InvalidGraphResult['cases'] = [];
  for (const [label, name, bytes] of broken) {
    const before = runnerBuffersCreated;
    const { outcome } = await settle(createGpuPackageRunner({ manifest, graphs: new Map(graphs).set(name, bytes), pipelines }));
    cases.push({ label, outcome, liveSessions: liveSessions(), runnerBuffersCreated: runnerBuffersCreated - before });
  }
  // Loadable graphs that contradict the manifest (it says 32x48 input; the backbone takes 64x96).
  const mismatched = structuredClone(manifest);
  const imageTensor = mismatched.tensors.image;
  if (imageTensor !== undefined) imageTensor.shape = [1, 3, 32, 48];
  const before = runnerBuffersCreated;
  const mismatch = await settle(createGpuPackageRunner({ manifest: mismatched, graphs, pipelines }));
  cases.push({
    label: 'manifest says 32x48, graph takes 64x96',
    outcome: mismatch.outcome,
    liveSessions: liveSessions(),
    runnerBuffersCreated: runnerBuffersCreated - before,
  });
  // The next good call: a runner on the intact package, one frame, against the CPU runner.
  const data = new Float32Array(3 * 64 * 96).map((_, i) => Math.sin(i * 0.01));
  const input = (): Record<string, RunnerInput> => ({ image: { data: data.slice(), dims: [1, 3, 64, 96] } });
  const uncapturedErrors: string[] = [];
  const run = async () => {
    const runner = await createGpuPackageRunner({ manifest, graphs, pipelines });
    runner.device.addEventListener('uncapturederror', (event) => uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
    try {
      return await runner.run('detect', input());
    } finally {
      await runner.dispose();
    }
  };
  const good = await settle(run());
  const cpuRunner = await createCpuPackageRunner({ manifest, graphs, pipelines });
  const cpu = await cpuRunner.run('detect', input());
  await cpuRunner.dispose();
  const gpu = good.value?.outputs;
  return {
    cases,
    good: {
      outcome: good.outcome,
      vsCpu: {
        logits: maxAbsDiff(gpu?.pred_logits?.data ?? [], cpu.outputs.pred_logits?.data ?? []),
        boxes: maxAbsDiff(gpu?.pred_boxes?.data ?? [], cpu.outputs.pred_boxes?.data ?? []),
      },
      uncapturedErrors,
      liveSessionsAfterDispose: liveSessions(),
    },
  };
}

export interface WorkerCrashResult {
  first: Outcome;
  /** The call waiting on the worker when it ended. */
  inFlight: Outcome;
  /** A call queued behind it: it starts on a fresh worker. */
  queued: Outcome;
  queuedMatches: number;
  next: Outcome;
  nextMatches: number;
  /** A new createDetector for the same model after the crash. */
  recreated: Outcome;
  recreatedMatches: number;
  workersStarted: number;
  openTimersAfterDispose: number;
  intervalsStarted: number;
}

type RawResult = { value?: { raw?: { logits: Float32Array } } | undefined };
const logitsOf = (r: RawResult) => r.value?.raw?.logits ?? new Float32Array();

/**
 * The worker ends without an error event while a call waits on it: `terminate` kills it while it is
 * busy (a 2 s stall, like a long WASM graph run) with the call queued in it; `exit` makes it close
 * itself before it reads the call. `stall` only keeps it busy for 3 s: the call must then succeed.
 */
async function workerCrash(model: string, how: 'terminate' | 'exit' | 'stall'): Promise<WorkerCrashResult> {
  const workersBefore = workers.length;
  const intervalsBefore = intervalsStarted;
  const image = testImage();
  const options = { raw: true, threshold: 0 } as const;
  const detector = await createDetector({ model, backend: 'wasm', cache: false });
  const first = await settle(detector.detect(image, options));
  const worker = workers.at(-1);
  const hook: TestHookMessage =
    how === 'exit' ? { webdetrTestHook: 'exit' } : { webdetrTestHook: 'stall', ms: how === 'stall' ? 3000 : 2000 };
  worker?.postMessage(hook);
  const inFlight = settle(detector.detect(image, options));
  const queued = settle(detector.detect(image, options));
  if (how === 'terminate') {
    await new Promise((resolve) => setTimeout(resolve, 200));
    worker?.terminate();
  }
  const [lost, behind] = await Promise.all([inFlight, queued]);
  const next = await settle(detector.detect(image, options));
  const again = await settle(createDetector({ model, backend: 'wasm', cache: false }));
  const recreated: { outcome: Outcome } & RawResult = again.value
    ? await settle(again.value.detect(image, options))
    : { outcome: again.outcome };
  await again.value?.dispose();
  await detector.dispose();
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const reference = logitsOf(first);
  return {
    first: first.outcome,
    inFlight: lost.outcome,
    queued: behind.outcome,
    queuedMatches: maxAbsDiff(logitsOf(behind), reference),
    next: next.outcome,
    nextMatches: maxAbsDiff(logitsOf(next), reference),
    recreated: recreated.outcome,
    recreatedMatches: maxAbsDiff(logitsOf(recreated), reference),
    workersStarted: workers.length - workersBefore,
    openTimersAfterDispose: openTimers.size,
    intervalsStarted: intervalsStarted - intervalsBefore,
  };
}

export interface DeviceLossResult {
  backend: string;
  first: Outcome;
  inFlight: Outcome;
  recovered: Outcome;
  recoveredBackend: string;
  /** Recovered vs first frame, and first frame vs a WASM detector on the same picture. */
  recoveredVsFirst: { logits: number; boxes: number };
  webgpuVsWasm: { logits: number; boxes: number };
  workersStarted: number;
}

/** Item: destroy the worker's GPUDevice in the middle of a frame through createDetector on WebGPU. */
async function deviceLossMidFrame(model: string, afterSubmits: number): Promise<DeviceLossResult> {
  const workersBefore = workers.length;
  const image = testImage();
  const options = { raw: true, threshold: 0 } as const;
  const detector = await createDetector({ model, backend: 'webgpu', cache: false });
  try {
    const first = await settle(detector.detect(image, options));
    // Posted before the call, so the hook is armed when the frame starts.
    workers.at(-1)?.postMessage({ webdetrTestHook: 'lose-device', afterSubmits } satisfies TestHookMessage);
    const inFlight = await settle(detector.detect(image, options));
    const recovered = await settle(detector.detect(image, options));
    const wasm = await createDetector({ model, backend: 'wasm', cache: false });
    const cpu = await wasm.detect(image, options);
    await wasm.dispose();
    const diff = (a: typeof first.value, b: typeof first.value) => ({
      logits: maxAbsDiff(a?.raw?.logits ?? [], b?.raw?.logits ?? []),
      boxes: maxAbsDiff(a?.raw?.boxes ?? [], b?.raw?.boxes ?? []),
    });
    return {
      backend: detector.backend.name,
      first: first.outcome,
      inFlight: inFlight.outcome,
      recovered: recovered.outcome,
      recoveredBackend: recovered.value?.backend.name ?? 'none',
      recoveredVsFirst: diff(recovered.value, first.value),
      webgpuVsWasm: diff(first.value, cpu),
      workersStarted: workers.length - workersBefore,
    };
  } finally {
    await detector.dispose();
  }
}

export interface OutOfMemoryResult {
  backend: string;
  /** The runner's first tensor buffer fails (first frame), then the same call again. */
  runnerOom: Outcome;
  afterRunnerOom: Outcome;
  /** A large picture's texture fails, then the same picture again, then the small one. */
  imageOom: Outcome;
  afterImageOom: Outcome;
  smallAgain: Outcome;
  /** The small picture's outputs after both failures vs right after the first (same detector). */
  smallAgainVsFirstGood: { logits: number; boxes: number };
  /** Stats after the first good frame vs after the last frame (same picture): nothing left half-made. */
  statsAfterFirstGood: DetectorStats;
  statsAtEnd: DetectorStats;
  workersStarted: number;
}

/** Item: GPU out of memory (injected at allocation, see armOutOfMemory) in the runner and in preprocessing. */
async function outOfMemory(model: string, large: { width: number; height: number }): Promise<OutOfMemoryResult> {
  const workersBefore = workers.length;
  const small = testImage();
  const big = testImage(large.width, large.height);
  const options = { raw: true, threshold: 0 } as const;
  const detector = await createDetector({ model, backend: 'webgpu', cache: false });
  const arm = (minBytes: number, label?: string) =>
    workers.at(-1)?.postMessage({ webdetrTestHook: 'out-of-memory', minBytes, ...(label ? { label } : {}) } satisfies TestHookMessage);
  try {
    arm(0, '^package-runner-gpu:');
    const runnerOom = await settle(detector.detect(small, options));
    const afterRunnerOom = await settle(detector.detect(small, options));
    const statsAfterFirstGood = await detector.stats();
    arm(large.width * large.height * 4);
    const imageOom = await settle(detector.detect(big, options));
    const afterImageOom = await settle(detector.detect(big, options));
    const smallAgain = await settle(detector.detect(small, options));
    const statsAtEnd = await detector.stats();
    return {
      backend: detector.backend.name,
      runnerOom: runnerOom.outcome,
      afterRunnerOom: afterRunnerOom.outcome,
      imageOom: imageOom.outcome,
      afterImageOom: afterImageOom.outcome,
      smallAgain: smallAgain.outcome,
      smallAgainVsFirstGood: {
        logits: maxAbsDiff(smallAgain.value?.raw?.logits ?? [], afterRunnerOom.value?.raw?.logits ?? []),
        boxes: maxAbsDiff(smallAgain.value?.raw?.boxes ?? [], afterRunnerOom.value?.raw?.boxes ?? []),
      },
      statsAfterFirstGood,
      statsAtEnd,
      workersStarted: workers.length - workersBefore,
    };
  } finally {
    await detector.dispose();
  }
}

declare global {
  interface Window {
    faults?: {
      gpuRunnerInvalidGraph: typeof gpuRunnerInvalidGraph;
      workerCrash: typeof workerCrash;
      deviceLossMidFrame: typeof deviceLossMidFrame;
      outOfMemory: typeof outOfMemory;
    };
  }
}
window.faults = { gpuRunnerInvalidGraph, workerCrash, deviceLossMidFrame, outOfMemory };
