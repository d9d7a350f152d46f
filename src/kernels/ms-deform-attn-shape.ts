import { InputError } from '../errors.js';

/** Shape of one multi-scale deformable attention call (Deformable-DETR's MSDeformAttn core). */
export interface MsDeformAttnShape {
  /** N */
  batch: number;
  /** Lq */
  queries: number;
  /** M */
  heads: number;
  /** D, channels per head (d_model / M) */
  headDim: number;
  /** (H_l, W_l) per level, level-major in `value` */
  levels: ReadonlyArray<readonly [height: number, width: number]>;
  /** P, sampling points per level and head */
  points: number;
}

export type ReferenceDim = 2 | 4;

export const MAX_LEVELS = 8;
export const MAX_POINTS = 16;

/** S = sum of H_l * W_l. */
export function valueTokens(shape: MsDeformAttnShape): number {
  return shape.levels.reduce((sum, [h, w]) => sum + h * w, 0);
}

/** Start of each level in the S axis. */
export function levelStarts(shape: MsDeformAttnShape): number[] {
  const starts: number[] = [];
  let start = 0;
  for (const [h, w] of shape.levels) {
    starts.push(start);
    start += h * w;
  }
  return starts;
}

/** Element counts of every tensor of a call. */
export function tensorSizes(shape: MsDeformAttnShape, referenceDim: ReferenceDim = 2) {
  const { batch: n, queries: lq, heads: m, headDim: d, points: p } = shape;
  const l = shape.levels.length;
  return {
    value: n * valueTokens(shape) * m * d,
    samplingLocations: n * lq * m * l * p * 2,
    attentionWeights: n * lq * m * l * p,
    referencePoints: n * lq * l * referenceDim,
    samplingOffsets: n * lq * m * l * p * 2,
    attentionLogits: n * lq * m * l * p,
    output: n * lq * m * d,
  };
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

/** Throws InputError describing the first problem with `shape`. */
export function validateShape(shape: MsDeformAttnShape, referenceDim?: number): void {
  for (const key of ['batch', 'queries', 'heads', 'headDim', 'points'] as const) {
    if (!positiveInt(shape[key])) throw new InputError(`msDeformAttn: ${key} must be a positive integer, got ${shape[key]}`);
  }
  const l = shape.levels.length;
  if (l < 1 || l > MAX_LEVELS) throw new InputError(`msDeformAttn: 1..${MAX_LEVELS} levels supported, got ${l}`);
  if (shape.points > MAX_POINTS) throw new InputError(`msDeformAttn: at most ${MAX_POINTS} points, got ${shape.points}`);
  shape.levels.forEach(([h, w], i) => {
    if (!positiveInt(h) || !positiveInt(w)) throw new InputError(`msDeformAttn: level ${i} has invalid size ${h}x${w}`);
  });
  if (referenceDim !== undefined && referenceDim !== 2 && referenceDim !== 4) {
    throw new InputError(`msDeformAttn: reference points must have 2 (points) or 4 (boxes) values, got ${referenceDim}`);
  }
}
