/**
 * msDeformAttnRt stages (RT-DETR's decoder cross-attention) on both backends: operand checks against the
 * stage's shape, the WASM kernel on host tensors (CPU runner) and the WGSL kernel on the GPU tensor store,
 * prepared once per stage and re-prepared only when a buffer, the batch or the query count changes.
 */
import type { MsDeformAttnRtKernel } from '../kernels/ms-deform-attn-rt.js';
import { type MsDeformAttnRtFusedShape, rtTensorSizes } from '../kernels/ms-deform-attn-rt-shape.js';
import type { MsDeformAttnRtWasm } from '../kernels/ms-deform-attn-rt-wasm.js';
import { type MsDeformAttnRtStage, rtStageShape } from '../package/rt-stage.js';
import type { GpuTensorStore } from './gpu-tensor-store.js';
import { createKernelCalls, fusedBuffers } from './kernel-calls.js';
import { checkOperandSizes, type KernelCall, type KernelOperandDims, stageOperands } from './kernel-operands.js';
import type { HostTensor } from './runner.js';

/** Throws ModelIntegrityError('graph-mismatch') naming each operand whose element count is not the stage's. */
export function checkRtOperands(stage: MsDeformAttnRtStage, batch: number, queries: number, dims: KernelOperandDims): void {
  const expected = rtTensorSizes(rtStageShape(stage, batch, queries), stage.referenceDim, stage.sharedReference);
  checkOperandSizes(stage, dims, expected, `queries ${queries}, batch ${batch}`);
}

/** One run of the stage: its checked operands, the kernel shape and the output's dims. */
export function rtKernelCall<T extends { dims: readonly number[] }>(
  stage: MsDeformAttnRtStage,
  get: (name: string) => T,
  symbols: ReadonlyMap<string, number>,
): KernelCall<T, MsDeformAttnRtFusedShape> {
  const { tensors, dims, batch, queries } = stageOperands(stage, get, symbols);
  checkRtOperands(stage, batch, queries, dims);
  return { tensors, shape: rtStageShape(stage, batch, queries), outputDims: [batch, queries, stage.heads * stage.headDim] };
}

/** One stage on the CPU: the WASM kernel on the stage's host operands; returns the output tensor. */
export function runRtStageCpu(
  stage: MsDeformAttnRtStage,
  kernel: MsDeformAttnRtWasm,
  take: (name: string) => HostTensor,
  symbols: ReadonlyMap<string, number>,
): HostTensor {
  const { tensors: t, shape, outputDims } = rtKernelCall(stage, take, symbols);
  const data = kernel.fused(t.value.data, t.referencePoints.data, t.samplingOffsets.data, t.attentionLogits.data, shape);
  return { data, dims: outputDims };
}

export interface RtGpuStages {
  /** Encodes and submits one call; `key` names the stage (pipeline + index) for the prepare cache. */
  run(stage: MsDeformAttnRtStage, key: string): void;
  dispose(): void;
}

export function createRtGpuStages(context: {
  device: GPUDevice;
  kernel: MsDeformAttnRtKernel;
  store: GpuTensorStore;
  symbols: () => ReadonlyMap<string, number>;
}): RtGpuStages {
  const { kernel, store } = context;
  const calls = createKernelCalls(context.device);
  return {
    run(stage, key) {
      const { tensors, shape, outputDims } = rtKernelCall(stage, (name) => store.get(name), context.symbols());
      const buffers = fusedBuffers(tensors, store.reserve(stage.output, outputDims).buffer);
      calls.run(key, `ms_deform_attn_rt:${stage.name}`, buffers, `${shape.batch}:${shape.queries}`, () =>
        kernel.prepareFused(shape, buffers),
      );
    },
    dispose: () => calls.dispose(),
  };
}
