/**
 * A deformable-attention stage reads its four operands with the shape the manifest gives it (its
 * `queries` resolved from the run's symbols, its heads, levels and points). Tensors made by the graphs
 * must hold exactly that many elements: GPU buffers are reused and may be larger than the tensor, so
 * a manifest whose `queries` disagrees with its graphs would otherwise read stale data silently.
 */
import { ModelIntegrityError } from '../errors.js';
import { tensorSizes } from '../kernels/ms-deform-attn-shape.js';
import type { MsDeformAttnStage } from '../package/manifest.js';

export type KernelOperandDims = Record<'value' | 'referencePoints' | 'samplingOffsets' | 'attentionLogits', readonly number[]>;

/** Throws ModelIntegrityError('graph-mismatch') naming each operand whose element count is not the stage's. */
/** `levels`: this run's level shapes (size-policy.ts stageLevels); default the stage's fixed ones. */
export function checkKernelOperands(
  stage: MsDeformAttnStage,
  batch: number,
  queries: number,
  dims: KernelOperandDims,
  levels: readonly (readonly [number, number])[] = Array.isArray(stage.levels) ? stage.levels : [],
): void {
  const expected = tensorSizes(
    { batch, queries, heads: stage.heads, headDim: stage.headDim, levels, points: stage.points },
    stage.referenceDim,
  );
  const wrong: string[] = [];
  for (const operand of ['value', 'referencePoints', 'samplingOffsets', 'attentionLogits'] as const) {
    const found = dims[operand].reduce((product, d) => product * d, 1);
    if (found !== expected[operand]) {
      wrong.push(
        `${operand} ${stage[operand]} has dims [${dims[operand].join(', ')}] = ${found} elements, the stage needs ${expected[operand]}`,
      );
    }
  }
  if (wrong.length > 0) {
    throw new ModelIntegrityError(
      'manifest.json',
      'graph-mismatch',
      `kernel ${stage.name} (queries ${queries}, batch ${batch}, levels ${levels.map(([h, w]) => `${h}x${w}`).join(' ')}): ` +
        wrong.join('; '),
    );
  }
}
