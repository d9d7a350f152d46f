/** The element-count check of a deformable-attention stage's operands against its resolved shape. */
import { describe, expect, it } from 'vitest';
import { ModelIntegrityError } from '../../src/errors';
import { checkKernelOperands } from '../../src/runtime/kernel-operands';
import type { MsDeformAttnStage } from '../../src/package/manifest';

const STAGE: MsDeformAttnStage = {
  kind: 'msDeformAttn',
  name: 'encoder_0',
  value: 'value',
  referencePoints: 'reference',
  samplingOffsets: 'offsets',
  attentionLogits: 'logits',
  output: 'core',
  queries: 'tokens',
  heads: 2,
  headDim: 4,
  levels: [
    [4, 3],
    [2, 2],
  ],
  points: 3,
  referenceDim: 4,
};
// 16 tokens, 2 heads x 4 channels, 2 levels x 3 points, boxes as references
const dims = (queries: number) => ({
  value: [1, 16, 2, 4],
  referencePoints: [1, queries, 2, 4],
  samplingOffsets: [1, queries, 2, 2, 3, 2],
  attentionLogits: [1, queries, 2, 6],
});

describe('checkKernelOperands', () => {
  it('accepts operands of exactly the stage shape, whatever their dim split', () => {
    expect(() => checkKernelOperands(STAGE, 1, 16, dims(16))).not.toThrow();
    expect(() => checkKernelOperands(STAGE, 1, 16, { ...dims(16), value: [1, 16, 8] })).not.toThrow();
  });

  it('names every operand the query count disagrees with, as a graph mismatch', () => {
    const error = (() => {
      try {
        checkKernelOperands(STAGE, 1, 12, dims(16));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error).toMatchObject({ code: 'model-integrity', reason: 'graph-mismatch' });
    const message = (error as Error).message;
    expect(message).toContain('referencePoints reference has dims [1, 16, 2, 4] = 128 elements, the stage needs 96');
    expect(message).toContain('samplingOffsets offsets');
    expect(message).toContain('attentionLogits logits');
    expect(message).not.toContain('value value');
  });

  it('checks the value against the level shapes and the batch', () => {
    expect(() => checkKernelOperands(STAGE, 1, 16, { ...dims(16), value: [1, 15, 2, 4] })).toThrow(
      /value value has dims \[1, 15, 2, 4\] = 120 elements, the stage needs 128/,
    );
    expect(() => checkKernelOperands(STAGE, 2, 16, dims(16))).toThrow(ModelIntegrityError);
  });
});
