/**
 * A deformable-attention stage (either kind) reads its four operands with the shape the manifest gives it
 * (its `queries` resolved from the run's symbols, its heads, levels and points). Tensors made by the graphs
 * must hold exactly that many elements: GPU buffers are reused and may be larger than the tensor, so
 * a manifest whose `queries` disagrees with its graphs would otherwise read stale data silently.
 * Both runners take a stage's operands and kernel shape from here, host tensors or GPU ones alike.
 */
import { ModelIntegrityError } from '../errors.js';
import { type MsDeformAttnShape, type ReferenceDim, tensorSizes } from '../kernels/ms-deform-attn-shape.js';
import type { Dim, KernelStageTensors, MsDeformAttnStage } from '../package/manifest.js';
import { stageLevels } from '../package/size-policy.js';
import { resolveDim } from './tensor-dims.js';

export const KERNEL_OPERANDS = ['value', 'referencePoints', 'samplingOffsets', 'attentionLogits'] as const;
export type KernelOperand = (typeof KERNEL_OPERANDS)[number];
export type KernelOperandDims = Record<KernelOperand, readonly number[]>;

/** One run's operand tensors of a stage, with its batch (the value's first dim) and resolved query count. */
export interface StageOperands<T> {
  tensors: Record<KernelOperand, T>;
  dims: KernelOperandDims;
  batch: number;
  queries: number;
}

export function stageOperands<T extends { dims: readonly number[] }>(
  stage: KernelStageTensors & { queries: Dim },
  get: (name: string) => T,
  symbols: ReadonlyMap<string, number>,
): StageOperands<T> {
  const tensors = {
    value: get(stage.value),
    referencePoints: get(stage.referencePoints),
    samplingOffsets: get(stage.samplingOffsets),
    attentionLogits: get(stage.attentionLogits),
  };
  return {
    tensors,
    dims: {
      value: tensors.value.dims,
      referencePoints: tensors.referencePoints.dims,
      samplingOffsets: tensors.samplingOffsets.dims,
      attentionLogits: tensors.attentionLogits.dims,
    },
    batch: tensors.value.dims[0] ?? 1,
    queries: resolveDim(stage.queries, symbols, `kernel ${stage.name} queries`),
  };
}

/**
 * Throws ModelIntegrityError('graph-mismatch') naming each operand whose element count is not `expected`;
 * `context` (queries, batch, ...) goes in the message's parentheses.
 */
export function checkOperandSizes(
  stage: KernelStageTensors,
  dims: KernelOperandDims,
  expected: Record<KernelOperand, number>,
  context: string,
): void {
  const wrong = KERNEL_OPERANDS.flatMap((operand) => {
    const found = dims[operand].reduce((product, d) => product * d, 1);
    return found === expected[operand]
      ? []
      : [`${operand} ${stage[operand]} has dims [${dims[operand].join(', ')}] = ${found} elements, the stage needs ${expected[operand]}`];
  });
  if (wrong.length > 0) {
    throw new ModelIntegrityError('manifest.json', 'graph-mismatch', `kernel ${stage.name} (${context}): ${wrong.join('; ')}`);
  }
}

/**
 * Throws ModelIntegrityError('graph-mismatch') naming each operand whose element count is not the stage's.
 * `levels`: this run's level shapes (size-policy.ts stageLevels); default the stage's fixed ones.
 */
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
  const levelText = levels.map(([h, w]) => `${h}x${w}`).join(' ');
  checkOperandSizes(stage, dims, expected, `queries ${queries}, batch ${batch}, levels ${levelText}`);
}

/** One run of a stage: its checked operands, the kernel shape and the output's dims [N, Lq, M*D]. */
export interface KernelCall<T, Shape> {
  tensors: Record<KernelOperand, T>;
  shape: Shape;
  outputDims: number[];
}

/** One run of a msDeformAttn stage; a shorter-side package's level shapes follow this run's image. */
export function kernelCall<T extends { dims: readonly number[] }>(
  stage: MsDeformAttnStage,
  get: (name: string) => T,
  symbols: ReadonlyMap<string, number>,
): KernelCall<T, MsDeformAttnShape & { referenceDim: ReferenceDim }> {
  const { tensors, dims, batch, queries } = stageOperands(stage, get, symbols);
  const levels = stageLevels(stage, (name) => get(name).dims);
  checkKernelOperands(stage, batch, queries, dims, levels);
  const { heads, headDim, points, referenceDim } = stage;
  return {
    tensors,
    shape: { batch, queries, heads, headDim, levels, points, referenceDim },
    outputDims: [batch, queries, heads * headDim],
  };
}
