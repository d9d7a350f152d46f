/**
 * Deformable-attention calls on the GPU (both stage kinds), prepared once per stage and re-prepared only
 * when what they were bound to changes: a buffer, or the shape's signature (batch, query count — a symbolic
 * `queries`, e.g. the one-shot model's "patches*20", resolved per run — and level shapes). A buffer big
 * enough for two query counts may come back unchanged, so the count is in the signature. Each run is one
 * compute pass and one submit.
 */
import type { MsDeformAttnFusedBuffers } from '../kernels/ms-deform-attn-gpu.js';
import type { KernelOperand } from './kernel-operands.js';

interface Call {
  encode(pass: GPUComputePassEncoder): void;
  dispose(): void;
}

export interface KernelCalls {
  /** Encodes and submits the call for `key` (the stage's pipeline + index), preparing it when `buffers` or `signature` changed. */
  run(key: string, label: string, buffers: MsDeformAttnFusedBuffers, signature: string, prepare: () => Call): void;
  dispose(): void;
}

/** The fused kernel's buffers: the stage's four operand tensors and its output. */
export function fusedBuffers(tensors: Record<KernelOperand, { buffer: GPUBuffer }>, output: GPUBuffer): MsDeformAttnFusedBuffers {
  return {
    value: tensors.value.buffer,
    referencePoints: tensors.referencePoints.buffer,
    samplingOffsets: tensors.samplingOffsets.buffer,
    attentionLogits: tensors.attentionLogits.buffer,
    output,
  };
}

export function createKernelCalls(device: GPUDevice): KernelCalls {
  const prepared = new Map<string, { buffers: GPUBuffer[]; signature: string; call: Call }>();
  return {
    run(key, label, buffers, signature, prepare) {
      const bound = Object.values(buffers);
      let entry = prepared.get(key);
      if (entry === undefined || entry.signature !== signature || entry.buffers.some((b, i) => b !== bound[i])) {
        entry?.call.dispose();
        entry = { buffers: bound, signature, call: prepare() };
        prepared.set(key, entry);
      }
      const encoder = device.createCommandEncoder({ label });
      const pass = encoder.beginComputePass({ label });
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
