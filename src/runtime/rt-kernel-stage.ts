/**
 * msDeformAttnRt stages (RT-DETR's decoder cross-attention) on both backends: operand checks against the
 * stage's shape, the WASM kernel on host tensors (CPU runner) and the WGSL kernel on the GPU tensor store,
 * prepared once per stage and re-prepared only when a buffer, the batch or the query count changes.
 */
import { ModelIntegrityError } from '../errors.js';
import type { MsDeformAttnRtKernel, PreparedMsDeformAttnRt } from '../kernels/ms-deform-attn-rt.js';
import { rtTensorSizes } from '../kernels/ms-deform-attn-rt-shape.js';
import type { MsDeformAttnRtWasm } from '../kernels/ms-deform-attn-rt-wasm.js';
import { type MsDeformAttnRtStage, rtStageShape } from '../package/rt-stage.js';
import type { GpuTensorStore } from './gpu-tensor-store.js';
import type { HostTensor } from './runner.js';
import { resolveDim } from './tensor-dims.js';

const OPERANDS = ['value', 'referencePoints', 'samplingOffsets', 'attentionLogits'] as const;

/** Throws ModelIntegrityError('graph-mismatch') naming each operand whose element count is not the stage's. */
export function checkRtOperands(
  stage: MsDeformAttnRtStage,
  batch: number,
  queries: number,
  dims: Record<(typeof OPERANDS)[number], readonly number[]>,
): void {
  const shape = rtStageShape(stage, batch, queries);
  const expected = rtTensorSizes(shape, stage.referenceDim, stage.sharedReference);
  const wrong = OPERANDS.flatMap((operand) => {
    const found = dims[operand].reduce((product, d) => product * d, 1);
    return found === expected[operand]
      ? []
      : [`${operand} ${stage[operand]} has dims [${dims[operand].join(', ')}] = ${found} elements, the stage needs ${expected[operand]}`];
  });
  if (wrong.length > 0) {
    throw new ModelIntegrityError(
      'manifest.json',
      'graph-mismatch',
      `kernel ${stage.name} (queries ${queries}, batch ${batch}): ${wrong.join('; ')}`,
    );
  }
}

/** One stage on the CPU: the WASM kernel on the stage's host operands; returns the output tensor. */
export function runRtStageCpu(
  stage: MsDeformAttnRtStage,
  kernel: MsDeformAttnRtWasm,
  take: (name: string) => HostTensor,
  symbols: ReadonlyMap<string, number>,
): HostTensor {
  const [value, reference, offsets, logits] = OPERANDS.map((operand) => take(stage[operand])) as [
    HostTensor,
    HostTensor,
    HostTensor,
    HostTensor,
  ];
  const batch = value.dims[0] ?? 1;
  const queries = resolveDim(stage.queries, symbols, `kernel ${stage.name} queries`);
  checkRtOperands(stage, batch, queries, {
    value: value.dims,
    referencePoints: reference.dims,
    samplingOffsets: offsets.dims,
    attentionLogits: logits.dims,
  });
  const data = kernel.fused(value.data, reference.data, offsets.data, logits.data, rtStageShape(stage, batch, queries));
  return { data, dims: [batch, queries, stage.heads * stage.headDim] };
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
  const { device, kernel, store } = context;
  const prepared = new Map<string, { buffers: GPUBuffer[]; batch: number; queries: number; call: PreparedMsDeformAttnRt }>();
  return {
    run(stage, key) {
      const inputs = OPERANDS.map((operand) => store.get(stage[operand]));
      const [value, reference, offsets, logits] = inputs as [
        (typeof inputs)[0],
        (typeof inputs)[0],
        (typeof inputs)[0],
        (typeof inputs)[0],
      ];
      const batch = value.dims[0] ?? 1;
      const queries = resolveDim(stage.queries, context.symbols(), `kernel ${stage.name} queries`);
      checkRtOperands(stage, batch, queries, {
        value: value.dims,
        referencePoints: reference.dims,
        samplingOffsets: offsets.dims,
        attentionLogits: logits.dims,
      });
      const output = store.reserve(stage.output, [batch, queries, stage.heads * stage.headDim]);
      const buffers = [...inputs.map((t) => t.buffer), output.buffer];
      let entry = prepared.get(key);
      if (entry === undefined || entry.batch !== batch || entry.queries !== queries || entry.buffers.some((b, i) => b !== buffers[i])) {
        entry?.call.dispose();
        const call = kernel.prepareFused(rtStageShape(stage, batch, queries), {
          value: value.buffer,
          referencePoints: reference.buffer,
          samplingOffsets: offsets.buffer,
          attentionLogits: logits.buffer,
          output: output.buffer,
        });
        entry = { buffers, batch, queries, call };
        prepared.set(key, entry);
      }
      const encoder = device.createCommandEncoder({ label: `ms_deform_attn_rt:${stage.name}` });
      const pass = encoder.beginComputePass({ label: `ms_deform_attn_rt:${stage.name}` });
      entry.call.encode(pass);
      pass.end();
      device.queue.submit([encoder.finish()]);
    },
    dispose() {
      for (const entry of prepared.values()) entry.call.dispose();
      prepared.clear();
    },
  };
}
