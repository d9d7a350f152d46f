/**
 * Executes a model package's pipelines on the CPU: graph stages with onnxruntime-web's wasm backend,
 * deformable-attention stages with the float64 TypeScript reference kernel. Used for parity tests in
 * Node and as the readable specification of what the WebGPU runtime must do with the same stages.
 */
import * as ort from 'onnxruntime-web';
import { msDeformAttnFusedReference } from '../kernels/ms-deform-attn-reference';
import { InputError } from '../errors';
import type { Manifest, MsDeformAttnStage, Pipeline } from './manifest';

export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface CpuPackageRunner {
  /** Run one pipeline; tensors produced by earlier pipelines (e.g. an image encoding) stay available. */
  run(pipelineName: string, inputs: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  /** Wall time of the last run, split into graph and kernel milliseconds. */
  readonly lastTimings: { graphMs: number; kernelMs: number };
  dispose(): Promise<void>;
}

/** loadGraph returns a graph file's bytes (e.g. readFile(join(dir, file))). */
export async function createCpuPackageRunner(
  manifest: Manifest,
  loadGraph: (file: string) => Promise<Uint8Array>,
  pipelineNames: readonly string[] = manifest.pipelines.map((p) => p.name),
): Promise<CpuPackageRunner> {
  const pipelines = new Map<string, Pipeline>();
  for (const name of pipelineNames) {
    const pipeline = manifest.pipelines.find((p) => p.name === name);
    if (pipeline === undefined) throw new InputError(`package has no pipeline ${name}`);
    pipelines.set(name, pipeline);
  }
  const sessions = new Map<string, ort.InferenceSession>();
  for (const pipeline of pipelines.values()) {
    for (const stage of pipeline.stages) {
      if (stage.kind !== 'graph' || sessions.has(stage.graph)) continue;
      const graph = manifest.graphs.find((g) => g.name === stage.graph);
      if (graph === undefined) throw new InputError(`package has no graph ${stage.graph}`);
      sessions.set(stage.graph, await ort.InferenceSession.create(await loadGraph(graph.file), { executionProviders: ['wasm'] }));
    }
  }
  const live = new Map<string, HostTensor>();
  const timings = { graphMs: 0, kernelMs: 0 };

  function take(name: string): HostTensor {
    const tensor = live.get(name);
    if (tensor === undefined) throw new InputError(`tensor ${name} was not produced before it is read`);
    return tensor;
  }

  function runKernel(stage: MsDeformAttnStage): void {
    const value = take(stage.value);
    const out = msDeformAttnFusedReference(
      value.data,
      take(stage.referencePoints).data,
      take(stage.samplingOffsets).data,
      take(stage.attentionLogits).data,
      {
        batch: value.dims[0] ?? 1,
        queries: stage.queries,
        heads: stage.heads,
        headDim: stage.headDim,
        levels: stage.levels,
        points: stage.points,
        referenceDim: stage.referenceDim,
      },
    );
    live.set(stage.output, { data: Float32Array.from(out), dims: [value.dims[0] ?? 1, stage.queries, stage.heads * stage.headDim] });
  }

  return {
    get lastTimings() {
      return { ...timings };
    },
    async run(pipelineName, inputs) {
      const pipeline = pipelines.get(pipelineName);
      if (pipeline === undefined) throw new InputError(`runner was not created for pipeline ${pipelineName}`);
      for (const name of pipeline.inputs) {
        const tensor = inputs[name];
        if (tensor === undefined) throw new InputError(`pipeline ${pipelineName} needs input ${name}`);
        live.set(name, tensor);
      }
      timings.graphMs = 0;
      timings.kernelMs = 0;
      for (const stage of pipeline.stages) {
        const started = performance.now();
        if (stage.kind === 'msDeformAttn') {
          runKernel(stage);
          timings.kernelMs += performance.now() - started;
          continue;
        }
        const session = sessions.get(stage.graph);
        if (session === undefined) throw new InputError(`no session for graph ${stage.graph}`);
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of stage.inputs) {
          const tensor = take(name);
          feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
        }
        const results = await session.run(feeds);
        for (const name of stage.outputs) {
          const result = results[name];
          if (result === undefined || result.type !== 'float32') throw new InputError(`graph ${stage.graph} gave no float32 ${name}`);
          live.set(name, { data: result.data as Float32Array, dims: result.dims });
        }
        timings.graphMs += performance.now() - started;
      }
      const outputs: Record<string, HostTensor> = {};
      for (const name of pipeline.outputs) outputs[name] = take(name);
      return outputs;
    },
    async dispose() {
      for (const session of sessions.values()) await session.release();
      sessions.clear();
      live.clear();
    },
  };
}
