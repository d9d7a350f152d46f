/**
 * The two kinds of manifest stage on the GPU, reading and writing the runner's tensor store:
 * graph stages run an ORT WebGPU session with GPU-buffer feeds and pre-allocated GPU-buffer outputs
 * (fetches), so ORT writes straight into our stable buffers; deformable-attention stages dispatch
 * our fused WGSL kernel through kernel-calls.ts, re-prepared only when a buffer, the batch, the query
 * count or the level shapes (a shorter-side package's, computed from each run's image) change.
 */
import * as ort from 'onnxruntime-web';
import { InputError } from '../errors.js';
import type { MsDeformAttnKernel } from '../kernels/ms-deform-attn.js';
import type { GpuTensor, GpuTensorStore } from './gpu-tensor-store.js';
import type { GraphStage, Manifest, MsDeformAttnStage } from '../package/manifest.js';
import { createKernelCalls, fusedBuffers } from './kernel-calls.js';
import { kernelCall } from './kernel-operands.js';
import { bindOutputSymbols, resolveDims } from './tensor-dims.js';

export interface GpuStagesContext {
  device: GPUDevice;
  manifest: Manifest;
  sessions: ReadonlyMap<string, ort.InferenceSession>;
  kernel: MsDeformAttnKernel;
  store: GpuTensorStore;
  /** Symbolic dims bound from the current run's inputs, and from graph outputs as they are produced. */
  symbols: () => Map<string, number>;
}

export interface GpuStages {
  runGraph(stage: GraphStage): Promise<void>;
  /** Encodes and submits one kernel call; `key` names the stage (pipeline + index) for the prepare cache. */
  runKernel(stage: MsDeformAttnStage, key: string): void;
  dispose(): void;
}

export function createGpuStages(context: GpuStagesContext): GpuStages {
  const { device, manifest, sessions, kernel, store } = context;
  const calls = createKernelCalls(device);
  /** ORT tensor views of our buffers, rebuilt only when the buffer or dims change. */
  const views = new Map<string, { buffer: GPUBuffer; dims: string; tensor: ort.Tensor }>();

  function view(name: string, tensor: GpuTensor): ort.Tensor {
    const dims = tensor.dims.join(',');
    const cached = views.get(name);
    if (cached !== undefined && cached.buffer === tensor.buffer && cached.dims === dims) return cached.tensor;
    const created = ort.Tensor.fromGpuBuffer(tensor.buffer, { dataType: 'float32', dims: tensor.dims });
    views.set(name, { buffer: tensor.buffer, dims, tensor: created });
    return created;
  }

  return {
    async runGraph(stage) {
      const session = sessions.get(stage.graph);
      if (session === undefined) throw new InputError(`no session for graph ${stage.graph}`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of stage.inputs) feeds[name] = view(name, store.get(name));
      const fetches: Record<string, ort.Tensor | null> = {};
      for (const name of stage.outputs) {
        const declared = manifest.tensors[name];
        const dims = declared === undefined ? undefined : resolveDims(declared.shape, context.symbols());
        // An output whose size the manifest cannot give is left to ORT (allocated per run).
        // Exactly sized: ORT registers an output buffer with its byte size once per (session, output)
        // and keeps that size while the same GPUBuffer comes back, so a smaller run (fewer patches)
        // in a larger buffer fails its copy ("inconsistent source and destination gpu data size").
        fetches[name] = dims === undefined ? null : view(name, store.reserve(name, dims, true));
      }
      const results = await session.run(feeds, fetches);
      for (const name of stage.outputs) {
        if (fetches[name] !== null) continue;
        const result = results[name];
        if (result === undefined || result.type !== 'float32' || result.location !== 'gpu-buffer') {
          throw new InputError(`graph ${stage.graph} gave no float32 GPU tensor ${name}`);
        }
        store.bindManaged(name, { buffer: result.gpuBuffer as GPUBuffer, dims: result.dims }, () => result.dispose());
        // A shorter-side package's "tokens" is known once its first graph ran: later outputs are pre-sized.
        bindOutputSymbols(manifest.tensors[name]?.shape ?? [], result.dims, context.symbols());
      }
    },

    runKernel(stage, key) {
      const { tensors, shape, outputDims } = kernelCall(stage, (name) => store.get(name), context.symbols());
      const buffers = fusedBuffers(tensors, store.reserve(stage.output, outputDims).buffer);
      const signature = `${shape.batch}:${shape.queries}:${shape.levels.join(';')}`;
      calls.run(key, `ms_deform_attn:${stage.name}`, buffers, signature, () => kernel.prepareFused(shape, buffers));
    },

    dispose() {
      calls.dispose();
      views.clear();
    },
  };
}
