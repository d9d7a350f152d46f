/**
 * Executes a model package's pipelines on WebGPU: graph stages in onnxruntime-web's WebGPU EP, the
 * deformable-attention stages in our fused WGSL kernel, on one shared GPUDevice (ORT's, see
 * ort-webgpu.ts). Every intermediate tensor stays in a GPU buffer that lives across frames; only the
 * pipeline outputs are read back. Same semantics as the CPU twin (package-runner-cpu.ts).
 *
 *   const runner = await createGpuPackageRunner({ manifest, graphs, pipelines: ['detect'] });
 *   const { outputs, stages } = await runner.run('detect', { image: { buffer, dims: [1, 3, h, w] } });
 */
import { DeviceLostError, DisposedError, GpuError, InputError } from '../errors.js';
import { withGpuErrorScopes } from '../gpu/error-scope.js';
import { createMsDeformAttn, type MsDeformAttnKernel } from '../kernels/ms-deform-attn.js';
import { createMsDeformAttnRt, type MsDeformAttnRtKernel } from '../kernels/ms-deform-attn-rt.js';
import { createRtGpuStages } from './rt-kernel-stage.js';
import type { PackageRunner, RunnerCounters, RunnerInput, StageTiming } from './runner.js';
import { isGpuTensor } from './runner.js';
import { createGpuStages } from './gpu-stages.js';
import { checkGraphSignature } from './graph-signature.js';
import { createGpuTensorStore, elementCount } from './gpu-tensor-store.js';
import { stageIo, type Manifest, type Pipeline } from '../package/manifest.js';
import { createOrtWebGpuSessions, preferredLayoutFor, type GraphBytes } from './ort-webgpu.js';
import { findPipeline, graphsOfPipelines } from '../package/pipeline-graphs.js';
import { bindDims } from './tensor-dims.js';

export interface GpuRunnerOptions {
  manifest: Manifest;
  /** Graph name -> ONNX bytes, at least the graphs `pipelines` use. */
  graphs: ReadonlyMap<string, Uint8Array>;
  /** Pipeline names to prepare (e.g. ['detect'] or ['image', 'patches']). */
  pipelines: readonly string[];
  /**
   * Default: navigator.gpu.requestAdapter(). Ignored once ORT made its device in this context (the result's
   * `adapter` says which one runs).
   */
  adapter?: GPUAdapter;
}

/** The WebGPU runner: its device is always there, and `adapter` says which adapter runs it. */
export type GpuPackageRunner = PackageRunner & { readonly device: GPUDevice; readonly adapter: GPUAdapter };

const LABEL = 'package-runner-gpu';

/** Tensors a pipeline reads that neither its inputs nor its own stages produce (from its `after`). */
function borrowedTensors(pipeline: Pipeline): string[] {
  const available = new Set(pipeline.inputs);
  const borrowed = new Set<string>();
  for (const stage of pipeline.stages) {
    const { reads, writes } = stageIo(stage);
    for (const name of reads) if (!available.has(name)) borrowed.add(name);
    for (const name of writes) available.add(name);
  }
  return [...borrowed];
}

/** The runtime passes float32 only: fp16-weight packages still compute and exchange fp32. */
function checkFloat32(manifest: Manifest, pipeline: Pipeline): void {
  const names = [...pipeline.inputs, ...pipeline.stages.flatMap((s) => [...stageIo(s).reads, ...stageIo(s).writes])];
  for (const name of names) {
    const dtype = manifest.tensors[name]?.dtype;
    if (dtype !== 'float32')
      throw new InputError(`pipeline ${pipeline.name}: tensor ${name} is ${dtype ?? 'undeclared'}; the GPU runner passes float32 only`);
  }
}

export async function createGpuPackageRunner(options: GpuRunnerOptions): Promise<GpuPackageRunner> {
  const { manifest } = options;
  const pipelines = new Map<string, Pipeline>(options.pipelines.map((name) => [name, findPipeline(manifest, name)]));
  for (const pipeline of pipelines.values()) checkFloat32(manifest, pipeline);
  const graphs = graphsOfPipelines(manifest, options.pipelines).map((graph): GraphBytes => {
    const bytes = options.graphs.get(graph.name);
    if (bytes === undefined) throw new InputError(`graph ${graph.name} was not loaded`);
    return [graph.name, bytes, graph.file];
  });
  const { sessions, device, adapter } = await createOrtWebGpuSessions(graphs, options.adapter, (name) =>
    preferredLayoutFor(manifest, name),
  );
  try {
    for (const graph of graphsOfPipelines(manifest, options.pipelines)) {
      const session = sessions.get(graph.name);
      if (session !== undefined) checkGraphSignature(manifest, graph, session);
    }
  } catch (error) {
    for (const session of sessions.values()) await session.release();
    throw error;
  }
  let lostInfo: GPUDeviceLostInfo | undefined;
  const lostError = (info: GPUDeviceLostInfo) =>
    new DeviceLostError(info.reason ?? 'unknown', `the GPU device was lost (${info.reason}): ${info.message}`);
  /** Rejecters of the awaits under way: a lost device fails them at once instead of leaving them hanging. */
  const inFlight = new Set<(error: Error) => void>();
  void device.lost.then((info) => {
    lostInfo = info;
    for (const reject of inFlight) reject(lostError(info));
  });
  let kernel: MsDeformAttnKernel;
  // RT-DETR packages: the family's kernel, compiled only when a pipeline has its stages.
  let rtKernel: MsDeformAttnRtKernel | undefined;
  try {
    kernel = await withGpuErrorScopes(device, `${LABEL}: kernel pipelines`, () => createMsDeformAttn(device));
    if ([...pipelines.values()].some((p) => p.stages.some((s) => s.kind === 'msDeformAttnRt'))) {
      rtKernel = await withGpuErrorScopes(device, `${LABEL}: RT-DETR kernel pipelines`, () => createMsDeformAttnRt(device));
    }
    // ORT keeps a lost device for the whole context; by now its lost promise has settled if so.
    if (lostInfo !== undefined) throw lostError(lostInfo);
  } catch (error) {
    for (const session of sessions.values()) await session.release();
    throw error;
  }
  const store = createGpuTensorStore(device, LABEL);
  let symbols = new Map<string, number>();
  const stages = createGpuStages({ device, manifest, sessions, kernel, store, symbols: () => symbols });
  const rtStages = rtKernel === undefined ? undefined : createRtGpuStages({ device, kernel: rtKernel, store, symbols: () => symbols });
  const counters: RunnerCounters = { graphRuns: 0, kernelRuns: 0, perGraph: {} };
  let disposed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const guarded = <T>(work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      inFlight.add(reject);
      work.then(resolve, reject).finally(() => inFlight.delete(reject));
    });

  function bindInputs(pipeline: Pipeline, inputs: Record<string, RunnerInput>): void {
    // Symbols come from this run's inputs and the tensors it borrows only: a symbol bound by another
    // pipeline (e.g. `patches` of a one-shot run) must not size this pipeline's outputs.
    const next = new Map<string, number>();
    for (const name of pipeline.inputs) {
      const tensor = inputs[name];
      if (tensor === undefined) throw new InputError(`pipeline ${pipeline.name} needs input ${name}`);
      bindDims(name, manifest.tensors[name]?.shape ?? [], tensor.dims, next);
      if (isGpuTensor(tensor)) {
        if (!(tensor.buffer.usage & GPUBufferUsage.STORAGE)) throw new InputError(`${name}: the GPU buffer needs STORAGE usage`);
        if (tensor.buffer.size < elementCount(tensor.dims) * 4)
          throw new InputError(
            `${name}: buffer holds ${tensor.buffer.size} bytes, dims [${tensor.dims.join(', ')}] need ${elementCount(tensor.dims) * 4}`,
          );
      } else if (tensor.data.length !== elementCount(tensor.dims)) {
        throw new InputError(`${name}: ${tensor.data.length} values for dims [${tensor.dims.join(', ')}]`);
      }
    }
    for (const name of borrowedTensors(pipeline)) {
      if (!store.has(name))
        throw new InputError(`pipeline ${pipeline.name} reads ${name}: run pipeline ${pipeline.after ?? '(its producer)'} first`);
      bindDims(name, manifest.tensors[name]?.shape ?? [], store.get(name).dims, next);
    }
    symbols = next;
  }

  async function runStages(pipeline: Pipeline, inputs: Record<string, RunnerInput>) {
    await guarded(
      withGpuErrorScopes(device, `${pipeline.name}: inputs`, () => {
        for (const name of pipeline.inputs) {
          const tensor = inputs[name];
          if (tensor === undefined) continue;
          if (isGpuTensor(tensor)) store.bindExternal(name, tensor);
          else store.upload(name, tensor);
        }
      }),
    );
    const timings: StageTiming[] = [];
    for (const [index, stage] of pipeline.stages.entries()) {
      const name = stage.kind === 'graph' ? stage.graph : stage.name;
      const started = performance.now();
      await guarded(
        withGpuErrorScopes(device, `${pipeline.name}: ${stage.kind} ${name}`, async () => {
          if (stage.kind === 'graph') await stages.runGraph(stage);
          else if (stage.kind === 'msDeformAttnRt') {
            if (rtStages === undefined) throw new InputError(`kernel ${stage.name}: no RT-DETR kernel`);
            rtStages.run(stage, `${pipeline.name}/${index}`);
          } else stages.runKernel(stage, `${pipeline.name}/${index}`);
          // Wait for the GPU so each stage's time is its own (and errors land in this stage's scope).
          await device.queue.onSubmittedWorkDone();
        }),
      );
      timings.push({ stage: name, kind: stage.kind, ms: performance.now() - started });
      if (stage.kind === 'graph') {
        counters.graphRuns++;
        counters.perGraph[stage.graph] = (counters.perGraph[stage.graph] ?? 0) + 1;
      } else {
        counters.kernelRuns++;
      }
    }
    const outputs = await guarded(withGpuErrorScopes(device, `${pipeline.name}: read back`, () => store.read(pipeline.outputs)));
    return { outputs, stages: timings };
  }

  return {
    backend: 'webgpu',
    pipelines: [...pipelines.keys()],
    counters,
    get liveSessions() {
      return sessions.size;
    },
    device,
    adapter,
    run(pipelineName, inputs) {
      // Runs share the tensor store, so overlapping calls are queued, not interleaved.
      const result = queue.then(async () => {
        if (disposed) throw new DisposedError('GpuPackageRunner');
        if (lostInfo !== undefined) throw lostError(lostInfo);
        const pipeline = pipelines.get(pipelineName);
        if (pipeline === undefined) throw new InputError(`runner was not created for pipeline ${pipelineName}`);
        bindInputs(pipeline, inputs);
        try {
          return await runStages(pipeline, inputs);
        } catch (error) {
          if (lostInfo !== undefined) throw lostError(lostInfo);
          // A buffer made in a failed scope (out of memory) is invalid: keeping it would fail every
          // later run. Dropping all of them costs one re-allocation; tensors of earlier pipelines go too.
          if (error instanceof GpuError) store.reset();
          throw error;
        }
      });
      queue = result.catch(() => undefined);
      return result;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue; // let a run under way finish before its buffers go
      stages.dispose();
      rtStages?.dispose();
      kernel.dispose();
      rtKernel?.dispose();
      store.dispose();
      let failure: unknown;
      for (const session of sessions.values()) {
        // Release every session even if one fails; after a device loss ORT's failures are expected.
        await session.release().catch((error: unknown) => {
          failure ??= error;
        });
      }
      sessions.clear();
      if (failure !== undefined && lostInfo === undefined) throw failure;
    },
  };
}
