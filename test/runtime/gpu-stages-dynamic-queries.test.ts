/**
 * A deformable-attention stage whose `queries` is a symbol expression ("patches*4", the one-shot
 * decoder) on Dawn (Node): each run resolves it from the run's symbols, sizes the output from it and
 * re-prepares the kernel when it changes, also when every buffer stays the same (the store keeps a
 * larger buffer for fewer queries). Reference: the float64 TypeScript kernel; tolerance 1e-5 abs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ModelIntegrityError } from '../../src/errors';
import { createMsDeformAttn } from '../../src/kernels/ms-deform-attn';
import { msDeformAttnFusedReference } from '../../src/kernels/ms-deform-attn-reference';
import { createGpuStages } from '../../src/runtime/gpu-stages';
import { createGpuTensorStore } from '../../src/runtime/gpu-tensor-store';
import type { Manifest, MsDeformAttnStage } from '../../src/package/manifest';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu';

const PER_PATCH = 4;
const LEVELS: [number, number][] = [
  [6, 5],
  [3, 3],
];
const SHAPE = { heads: 2, headDim: 8, levels: LEVELS, points: 2, referenceDim: 2 as const };
const TOKENS = LEVELS.reduce((sum, [h, w]) => sum + h * w, 0);
const STAGE: MsDeformAttnStage = {
  kind: 'msDeformAttn',
  name: 'decoder_0',
  value: 'dec_value_0',
  referencePoints: 'dec_reference_input',
  samplingOffsets: 'dec_offsets_0',
  attentionLogits: 'dec_logits_0',
  output: 'dec_core_0',
  queries: `patches*${PER_PATCH}`,
  ...SHAPE,
};

function seeded(seed: number, length: number, scale: number, offset = 0): Float32Array<ArrayBuffer> {
  let state = seed;
  return Float32Array.from({ length }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return offset + scale * (state / 2 ** 32);
  });
}

function inputs(patches: number, seed: number) {
  const q = patches * PER_PATCH;
  const { heads, headDim, points } = SHAPE;
  const l = LEVELS.length;
  return {
    value: { data: seeded(seed, TOKENS * heads * headDim, 2, -1), dims: [1, TOKENS, heads, headDim] },
    referencePoints: { data: seeded(seed + 1, q * l * 2, 1), dims: [1, q, l, 2] },
    samplingOffsets: { data: seeded(seed + 2, q * heads * l * points * 2, 4, -2), dims: [1, q, heads, l, points, 2] },
    attentionLogits: { data: seeded(seed + 3, q * heads * l * points, 4, -2), dims: [1, q, heads, l * points] },
  };
}

describe('GPU deformable-attention stage with a symbolic query count', async () => {
  const { device } = await createTestGpu();
  afterAll(() => device.destroy());

  it('resolves queries per run and re-prepares when only the count changes (3, 1, 3 patches)', async () => {
    const kernel = await createMsDeformAttn(device);
    const store = createGpuTensorStore(device, 'test-stages');
    let symbols = new Map<string, number>();
    const manifest = { tensors: {} } as unknown as Manifest; // runKernel reads no manifest tensors
    const stages = createGpuStages({ device, manifest, sessions: new Map(), kernel, store, symbols: () => symbols });
    // A second value buffer, bound from the 1-patch run on: it forces a re-prepare at 1 patch, so the
    // next 3-patch run meets the very same buffers and only the query count tells it to re-prepare.
    const otherValue = device.createBuffer({
      label: 'test:other-value',
      size: TOKENS * SHAPE.heads * SHAPE.headDim * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const outputBuffers: GPUBuffer[] = [];
    try {
      for (const [run, patches] of [3, 1, 3].entries()) {
        const data = inputs(patches, 10 * run + 1);
        symbols = new Map([['patches', patches]]);
        store.upload(STAGE.value, data.value);
        if (run >= 1) {
          device.queue.writeBuffer(otherValue, 0, data.value.data);
          store.bindExternal(STAGE.value, { buffer: otherValue, dims: data.value.dims });
        }
        store.upload(STAGE.referencePoints, data.referencePoints);
        store.upload(STAGE.samplingOffsets, data.samplingOffsets);
        store.upload(STAGE.attentionLogits, data.attentionLogits);
        stages.runKernel(STAGE, 'patches:1');
        const out = (await store.read([STAGE.output]))[STAGE.output];
        const q = patches * PER_PATCH;
        expect(out?.dims).toEqual([1, q, SHAPE.heads * SHAPE.headDim]);
        const want = msDeformAttnFusedReference(
          data.value.data,
          data.referencePoints.data,
          data.samplingOffsets.data,
          data.attentionLogits.data,
          { batch: 1, queries: q, ...SHAPE },
        );
        let diff = 0;
        want.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - (out?.data[i] ?? Number.NaN)))));
        expect(diff, `run ${run} (${patches} patches)`).toBeLessThanOrEqual(1e-5);
        outputBuffers.push(store.get(STAGE.output).buffer);
      }
      // The 3-patch output buffer served the 1-patch run and the second 3-patch run: same buffers, new count.
      expect(outputBuffers[1]).toBe(outputBuffers[0]);
      expect(outputBuffers[2]).toBe(outputBuffers[0]);
      // Symbols that say 2 patches over 3-patch tensors: every buffer is big enough, so only the
      // tensors' element counts can tell; the stage refuses instead of reading a 2-patch slice.
      symbols = new Map([['patches', 2]]);
      const mismatch = (() => {
        try {
          stages.runKernel(STAGE, 'patches:1');
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(mismatch).toBeInstanceOf(ModelIntegrityError);
      expect(mismatch).toMatchObject({
        reason: 'graph-mismatch',
        message: expect.stringMatching(
          /kernel decoder_0 \(queries 8.*samplingOffsets dec_offsets_0 has dims \[1, 12, 2, 2, 2, 2\] = 192 elements, the stage needs 128/,
        ),
      });
      symbols = new Map();
      expect(() => stages.runKernel(STAGE, 'patches:1')).toThrow(/patches\*4 cannot be resolved/);
    } finally {
      stages.dispose();
      store.dispose();
      kernel.dispose();
      otherValue.destroy();
    }
    expect(takeUncapturedErrors()).toEqual([]);
  });
});
