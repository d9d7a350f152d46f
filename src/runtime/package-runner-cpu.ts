/**
 * Executes a model package's pipelines on the CPU: graph stages with onnxruntime-web's wasm backend,
 * deformable-attention stages with the WebAssembly SIMD kernel (or, on request, the float64 TypeScript
 * reference it is tested against). It is the engine's WASM backend, the Node parity harness, and the
 * readable specification of what the WebGPU runner does with the same stages.
 */
import * as ort from 'onnxruntime-web';
import { msDeformAttnFusedReference } from '../kernels/ms-deform-attn-reference.js';
import { createMsDeformAttnWasm } from '../kernels/ms-deform-attn-wasm.js';
import { createMsDeformAttnRtWasm } from '../kernels/ms-deform-attn-rt-wasm.js';
import type { MsDeformAttnRtStage } from '../package/rt-stage.js';
import { runRtStageCpu } from './rt-kernel-stage.js';
import { DisposedError, InputError, ModelIntegrityError } from '../errors.js';
import type { HostTensor, PackageRunner, RunnerCounters, RunnerInput, StageTiming } from './runner.js';
import { isGpuTensor } from './runner.js';
import type { Manifest, MsDeformAttnStage, Pipeline } from '../package/manifest.js';
import { checkGraphSignature } from './graph-signature.js';
import { findPipeline, graphsOfPipelines } from '../package/pipeline-graphs.js';
import { kernelCall } from './kernel-operands.js';
import { bindDims, bindOutputSymbols } from './tensor-dims.js';

export type { HostTensor } from './runner.js';

export interface CpuRunnerOptions {
  manifest: Manifest;
  /** Graph name -> ONNX bytes, at least the graphs `pipelines` use. */
  graphs: ReadonlyMap<string, Uint8Array>;
  pipelines: readonly string[];
  /** Deformable attention: the WebAssembly kernel (default) or the float64 reference (benchmarks, tests). */
  msDeformAttn?: 'wasm' | 'reference';
}

/** The CPU runner: host tensors in and out, no device. */
export type CpuPackageRunner = PackageRunner & { readonly device: undefined };

export async function createCpuPackageRunner(options: CpuRunnerOptions): Promise<CpuPackageRunner> {
  const { manifest } = options;
  const pipelines = new Map<string, Pipeline>(options.pipelines.map((name) => [name, findPipeline(manifest, name)]));
  const wasmKernel = (options.msDeformAttn ?? 'wasm') === 'wasm' ? await createMsDeformAttnWasm() : undefined;
  // RT-DETR packages: the family's WASM kernel, instantiated only when a pipeline has its stages.
  const rtKernel = [...pipelines.values()].some((p) => p.stages.some((s) => s.kind === 'msDeformAttnRt'))
    ? await createMsDeformAttnRtWasm()
    : undefined;
  const sessions = new Map<string, ort.InferenceSession>();
  try {
    for (const graph of graphsOfPipelines(manifest, options.pipelines)) {
      const bytes = options.graphs.get(graph.name);
      if (bytes === undefined) throw new InputError(`graph ${graph.name} was not loaded`);
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      } catch (cause) {
        throw new ModelIntegrityError(
          graph.file,
          'invalid-graph',
          `${graph.file}: onnxruntime cannot load this graph (${String(cause)}); the package is broken`,
        );
      }
      sessions.set(graph.name, session);
      checkGraphSignature(manifest, graph, session);
    }
  } catch (error) {
    for (const session of sessions.values()) await session.release();
    throw error;
  }
  const live = new Map<string, HostTensor>();
  const counters: RunnerCounters = { graphRuns: 0, kernelRuns: 0, perGraph: {} };
  let disposed = false;

  function take(name: string): HostTensor {
    const tensor = live.get(name);
    if (tensor === undefined) throw new InputError(`tensor ${name} was not produced before it is read`);
    return tensor;
  }

  function runKernel(stage: MsDeformAttnStage, symbols: ReadonlyMap<string, number>): void {
    const { tensors: t, shape, outputDims } = kernelCall(stage, take, symbols);
    const operands = [t.value.data, t.referencePoints.data, t.samplingOffsets.data, t.attentionLogits.data] as const;
    const out = wasmKernel ? wasmKernel.fused(...operands, shape) : Float32Array.from(msDeformAttnFusedReference(...operands, shape));
    live.set(stage.output, { data: out, dims: outputDims });
    counters.kernelRuns++;
  }

  function runRtKernel(stage: MsDeformAttnRtStage, symbols: ReadonlyMap<string, number>): void {
    if (rtKernel === undefined) throw new InputError(`kernel ${stage.name}: no RT-DETR kernel`);
    live.set(stage.output, runRtStageCpu(stage, rtKernel, take, symbols));
    counters.kernelRuns++;
  }

  async function runGraph(
    graphName: string,
    inputNames: readonly string[],
    outputNames: readonly string[],
    symbols: Map<string, number>,
  ): Promise<void> {
    const session = sessions.get(graphName);
    if (session === undefined) throw new InputError(`no session for graph ${graphName}`);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of inputNames) {
      const tensor = take(name);
      feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
    }
    const results = await session.run(feeds);
    for (const name of outputNames) {
      const result = results[name];
      if (result === undefined || result.type !== 'float32') throw new InputError(`graph ${graphName} gave no float32 ${name}`);
      live.set(name, { data: result.data as Float32Array, dims: result.dims });
      // Outputs bind their unbound plain symbols (a shorter-side package's "tokens").
      bindOutputSymbols(manifest.tensors[name]?.shape ?? [], result.dims, symbols);
    }
    counters.graphRuns++;
    counters.perGraph[graphName] = (counters.perGraph[graphName] ?? 0) + 1;
  }

  return {
    backend: 'wasm',
    device: undefined,
    pipelines: [...pipelines.keys()],
    counters,
    get liveSessions() {
      return sessions.size;
    },
    async run(pipelineName, inputs: Record<string, RunnerInput>) {
      if (disposed) throw new DisposedError('CpuPackageRunner');
      const pipeline = pipelines.get(pipelineName);
      if (pipeline === undefined) throw new InputError(`runner was not created for pipeline ${pipelineName}`);
      // Symbols (e.g. the one-shot `patches` count) come from this run's inputs only, as on the GPU.
      const symbols = new Map<string, number>();
      for (const name of pipeline.inputs) {
        const tensor = inputs[name];
        if (tensor === undefined) throw new InputError(`pipeline ${pipelineName} needs input ${name}`);
        if (isGpuTensor(tensor)) throw new InputError(`the CPU runner takes host tensors; ${name} is a GPU buffer`);
        bindDims(name, manifest.tensors[name]?.shape ?? tensor.dims, tensor.dims, symbols);
        live.set(name, tensor);
      }
      const stages: StageTiming[] = [];
      for (const stage of pipeline.stages) {
        const started = performance.now();
        if (stage.kind === 'msDeformAttn') runKernel(stage, symbols);
        else if (stage.kind === 'msDeformAttnRt') runRtKernel(stage, symbols);
        else await runGraph(stage.graph, stage.inputs, stage.outputs, symbols);
        stages.push({ stage: stage.kind === 'graph' ? stage.graph : stage.name, kind: stage.kind, ms: performance.now() - started });
      }
      const outputs: Record<string, HostTensor> = {};
      for (const name of pipeline.outputs) outputs[name] = take(name);
      return { outputs, stages };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const session of sessions.values()) await session.release();
      sessions.clear();
      live.clear();
    },
  };
}
