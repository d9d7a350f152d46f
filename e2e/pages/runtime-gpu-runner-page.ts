/**
 * Browser side of e2e/runtime-gpu-runner.spec.ts: loads an exported package from the export cache,
 * runs a list of pipeline calls with createGpuPackageRunner (WebGPU EP + our kernel, one device) and
 * the same calls with createCpuPackageRunner (wasm), and returns raw outputs, counters and timings.
 * GPU-marked inputs are handed over as GpuTensorRef buffers on the runner's device, as the engine's
 * preprocess kernel would.
 */
import * as ort from 'onnxruntime-web';
import { WebDetrError } from '../../src/errors.js';
import { summarizeAdapter, type AdapterSummary } from '../../src/gpu/device.js';
import type { RunnerCounters, RunnerInput, PackageRunner, StageTiming } from '../../src/runtime/runner.js';
import { parseManifest } from '../../src/package/manifest.js';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu.js';
import { createGpuPackageRunner } from '../../src/runtime/package-runner-gpu.js';
import { graphsOfPipelines } from '../../src/package/pipeline-graphs.js';

export interface PlannedInput {
  /** URL of raw little-endian float32 data. */
  url: string;
  dims: number[];
  /** Pass as a GpuTensorRef on the runner's device (GPU runner only). */
  onGpu?: boolean;
}

export interface PlannedCall {
  pipeline: string;
  inputs: Record<string, PlannedInput>;
}

export interface RunnerPlan {
  /** URL of the package directory (manifest.json + graphs). */
  packageUrl: string;
  pipelines: string[];
  calls: PlannedCall[];
  /** Also run the calls with the CPU runner. */
  cpu: boolean;
  /** Log ORT's per-op GPU time (timestamp profiling) over the GPU runner's calls. */
  profile?: boolean;
}

export interface CallResult {
  pipeline: string;
  outputs: Record<string, { data: number[]; dims: number[] }>;
  stages: StageTiming[];
  ms: number;
  /** Buffers our runner created during the call (labels 'package-runner-gpu' / 'ms_deform_attn'). */
  runnerBuffersCreated: number;
}

export interface RunnerPageResult {
  hasNavigatorGpu: boolean;
  adapter: AdapterSummary;
  backend: string;
  ortVersion: string;
  createMs: number;
  gpu: CallResult[];
  gpuCounters: RunnerCounters;
  cpu: CallResult[];
  uncapturedErrors: string[];
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchFloats(url: string, count: number): Promise<Float32Array<ArrayBuffer>> {
  const bytes = await fetchBytes(url);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  if (all.length < count) throw new Error(`${url}: ${all.length} floats, need ${count}`);
  return all.slice(0, count);
}

async function runCalls(
  runner: PackageRunner,
  calls: PlannedCall[],
  toInput: (input: PlannedInput, data: Float32Array<ArrayBuffer>) => RunnerInput,
  createdBuffers: () => number,
): Promise<CallResult[]> {
  const results: CallResult[] = [];
  for (const call of calls) {
    const inputs: Record<string, RunnerInput> = {};
    for (const [name, input] of Object.entries(call.inputs)) {
      inputs[name] = toInput(
        input,
        await fetchFloats(
          input.url,
          input.dims.reduce((a, b) => a * b, 1),
        ),
      );
    }
    const before = createdBuffers();
    const started = performance.now();
    const { outputs, stages } = await runner.run(call.pipeline, inputs);
    const ms = performance.now() - started;
    const plain: CallResult['outputs'] = {};
    for (const [name, tensor] of Object.entries(outputs)) plain[name] = { data: [...tensor.data], dims: [...tensor.dims] };
    results.push({ pipeline: call.pipeline, outputs: plain, stages, ms, runnerBuffersCreated: createdBuffers() - before });
    console.log(
      `${runner.backend} ${call.pipeline}: ${(ms / 1000).toFixed(2)} s; ${stages.map((s) => `${s.stage} ${s.ms.toFixed(0)}`).join(', ')}`,
    );
  }
  return results;
}

async function runGpuRunnerPlan(plan: RunnerPlan): Promise<RunnerPageResult> {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'warning';
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await fetchBytes(`${plan.packageUrl}/manifest.json`))));
  const graphs = new Map<string, Uint8Array>();
  for (const graph of graphsOfPipelines(manifest, plan.pipelines))
    graphs.set(graph.name, await fetchBytes(`${plan.packageUrl}/${graph.file}`));

  let started = performance.now();
  const gpuRunner = await createGpuPackageRunner({ manifest, graphs, pipelines: plan.pipelines });
  const createMs = performance.now() - started;
  console.log(`GPU runner: ${graphs.size} sessions in ${(createMs / 1000).toFixed(1)} s`);
  const { device } = gpuRunner;
  const uncapturedErrors: string[] = [];
  device.addEventListener('uncapturederror', (event) => uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
  let runnerBuffers = 0;
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    if (/^(package-runner-gpu|ms_deform_attn)/.test(descriptor.label ?? '')) runnerBuffers++;
    return createBuffer(descriptor);
  };
  // Caller-owned input buffers, one per input URL (the engine's preprocess output would be one buffer).
  const callerBuffers = new Map<string, GPUBuffer>();
  const gpuInput = (input: PlannedInput, data: Float32Array<ArrayBuffer>): RunnerInput => {
    if (!input.onGpu) return { data, dims: input.dims };
    let buffer = callerBuffers.get(input.url);
    if (buffer === undefined) {
      buffer = createBuffer({
        label: 'caller-image',
        size: data.byteLength,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      callerBuffers.set(input.url, buffer);
    }
    device.queue.writeBuffer(buffer, 0, data);
    return { buffer, dims: input.dims };
  };
  const profile = new Map<string, number>();
  if (plan.profile) {
    ort.env.webgpu.profiling = {
      mode: 'default',
      ondata: (d) => profile.set(d.kernelType, (profile.get(d.kernelType) ?? 0) + (d.endTime - d.startTime) / 1e6),
    };
  }
  let gpu: CallResult[];
  try {
    gpu = await runCalls(gpuRunner, plan.calls, gpuInput, () => runnerBuffers);
  } finally {
    await gpuRunner.dispose();
    for (const buffer of callerBuffers.values()) buffer.destroy();
  }

  if (plan.profile) {
    ort.env.webgpu.profiling = { mode: 'off' };
    await new Promise((resolve) => setTimeout(resolve, 2000)); // timestamps arrive through mapAsync after the work
    console.log(
      `ORT GPU ms by op: ${[...profile.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([op, ms]) => `${op} ${ms.toFixed(0)}`)
        .join(', ')}`,
    );
  }
  let cpu: CallResult[] = [];
  if (plan.cpu) {
    started = performance.now();
    const cpuRunner = await createCpuPackageRunner({ manifest, graphs, pipelines: plan.pipelines });
    try {
      cpu = await runCalls(
        cpuRunner,
        plan.calls,
        (input, data) => ({ data, dims: input.dims }),
        () => 0,
      );
    } finally {
      await cpuRunner.dispose();
    }
  }
  return {
    hasNavigatorGpu: navigator.gpu !== undefined,
    adapter: summarizeAdapter(gpuRunner.adapter),
    backend: gpuRunner.backend,
    ortVersion: ort.env.versions.web ?? ort.env.versions.common,
    createMs,
    gpu,
    gpuCounters: structuredClone(gpuRunner.counters),
    cpu,
    uncapturedErrors,
  };
}

export interface LifecycleResult {
  afterDispose: string;
  /** Error codes of the run in flight when the device was destroyed, and of the next run. */
  inFlight: string;
  inFlightMs: number;
  next: string;
}

const errorCode = (error: unknown) => (error instanceof WebDetrError ? error.code : `untyped: ${String(error)}`);

/** dispose() then run -> DisposedError; device.destroy() during a run -> DeviceLostError, then on every run. Destroys ORT's device: run last. */
async function checkLifecycle(plan: RunnerPlan): Promise<LifecycleResult> {
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await fetchBytes(`${plan.packageUrl}/manifest.json`))));
  const graphs = new Map<string, Uint8Array>();
  for (const graph of graphsOfPipelines(manifest, plan.pipelines))
    graphs.set(graph.name, await fetchBytes(`${plan.packageUrl}/${graph.file}`));
  const call = plan.calls[0];
  if (call === undefined) throw new Error('plan has no call');
  const inputs = async (): Promise<Record<string, RunnerInput>> => {
    const out: Record<string, RunnerInput> = {};
    for (const [name, input] of Object.entries(call.inputs))
      out[name] = {
        data: await fetchFloats(
          input.url,
          input.dims.reduce((a, b) => a * b, 1),
        ),
        dims: input.dims,
      };
    return out;
  };
  const disposed = await createGpuPackageRunner({ manifest, graphs, pipelines: plan.pipelines });
  await disposed.dispose();
  const afterDispose = await disposed.run(call.pipeline, await inputs()).then(() => 'resolved', errorCode);

  const runner = await createGpuPackageRunner({ manifest, graphs, pipelines: plan.pipelines });
  const running = runner.run(call.pipeline, await inputs());
  const started = performance.now();
  runner.device.destroy();
  const inFlight = await running.then(() => 'resolved', errorCode);
  const inFlightMs = performance.now() - started;
  const next = await runner.run(call.pipeline, await inputs()).then(() => 'resolved', errorCode);
  await runner.dispose();
  return { afterDispose, inFlight, inFlightMs, next };
}

declare global {
  interface Window {
    runGpuRunnerPlan?: typeof runGpuRunnerPlan;
    checkGpuRunnerLifecycle?: typeof checkLifecycle;
  }
}
window.runGpuRunnerPlan = runGpuRunnerPlan;
window.checkGpuRunnerLifecycle = checkLifecycle;
