import { InputError } from '../errors.js';
import type { ReferenceDim } from './ms-deform-attn-shape.js';

/** 'default' = bilinear grid_sample (zeros, align_corners=False); 'discrete' = RT-DETRv2's nearest-pixel gather. */
export type MsDeformAttnRtMethod = 'default' | 'discrete';

/** One RT-DETR-family deformable attention call (v1 / v2 MSDeformableAttention). */
export interface MsDeformAttnRtShape {
  /** N */
  batch: number;
  /** Lq */
  queries: number;
  /** M */
  heads: number;
  /** D, channels per head */
  headDim: number;
  /** (H_l, W_l) per level, level-major in `value` */
  levels: ReadonlyArray<readonly [height: number, width: number]>;
  /** P_l per level (v2's num_points list), or one P for every level; samples are level-major. */
  points: number | ReadonlyArray<number>;
  /** Default 'default'. */
  method?: MsDeformAttnRtMethod;
}

/** The fused entry's extra parameters. */
export interface MsDeformAttnRtFusedShape extends MsDeformAttnRtShape {
  referenceDim: ReferenceDim;
  /** One reference row per query for all levels ([N, Lq, 1, R], RT-DETR's decoder) instead of one per level. */
  sharedReference?: boolean;
  /** Box offsets' scale (v2's offset_scale; v1 uses 0.5): loc = ref_xy + offset / P_l * ref_wh * scale. Default 0.5. */
  offsetScale?: number;
}

export const RT_MAX_LEVELS = 8;
/** Samples per head, sum of P_l (workgroup memory holds them all). */
export const RT_MAX_SAMPLES = 128;

/** P_l for every level. */
export function pointsPerLevel(shape: MsDeformAttnRtShape): number[] {
  const { points, levels } = shape;
  return typeof points === 'number' ? levels.map(() => points) : [...points];
}

/** S_P = sum of P_l. */
export function samplesPerHead(shape: MsDeformAttnRtShape): number {
  return pointsPerLevel(shape).reduce((a, b) => a + b, 0);
}

export function rtValueTokens(shape: MsDeformAttnRtShape): number {
  return shape.levels.reduce((sum, [h, w]) => sum + h * w, 0);
}

/** Element counts of every tensor of a call. */
export function rtTensorSizes(shape: MsDeformAttnRtShape, referenceDim: ReferenceDim = 2, sharedReference = false) {
  const { batch: n, queries: lq, heads: m, headDim: d } = shape;
  const samples = samplesPerHead(shape);
  return {
    value: n * rtValueTokens(shape) * m * d,
    samplingLocations: n * lq * m * samples * 2,
    attentionWeights: n * lq * m * samples,
    referencePoints: n * lq * (sharedReference ? 1 : shape.levels.length) * referenceDim,
    samplingOffsets: n * lq * m * samples * 2,
    attentionLogits: n * lq * m * samples,
    output: n * lq * m * d,
  };
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

/** Throws InputError describing the first problem with `shape`. */
export function validateRtShape(shape: MsDeformAttnRtShape, fused?: { referenceDim: number; offsetScale?: number }): void {
  for (const key of ['batch', 'queries', 'heads', 'headDim'] as const) {
    if (!positiveInt(shape[key])) throw new InputError(`msDeformAttnRt: ${key} must be a positive integer, got ${shape[key]}`);
  }
  const l = shape.levels.length;
  if (l < 1 || l > RT_MAX_LEVELS) throw new InputError(`msDeformAttnRt: 1..${RT_MAX_LEVELS} levels supported, got ${l}`);
  shape.levels.forEach(([h, w], i) => {
    if (!positiveInt(h) || !positiveInt(w)) throw new InputError(`msDeformAttnRt: level ${i} has invalid size ${h}x${w}`);
  });
  if (typeof shape.points !== 'number' && shape.points.length !== l) {
    throw new InputError(`msDeformAttnRt: ${shape.points.length} point counts for ${l} levels`);
  }
  const points = pointsPerLevel(shape);
  if (!points.every(positiveInt)) throw new InputError(`msDeformAttnRt: point counts must be positive integers, got ${points}`);
  const samples = samplesPerHead(shape);
  if (samples > RT_MAX_SAMPLES) throw new InputError(`msDeformAttnRt: at most ${RT_MAX_SAMPLES} samples per head, got ${samples}`);
  const method = shape.method ?? 'default';
  if (method !== 'default' && method !== 'discrete') throw new InputError(`msDeformAttnRt: unknown method ${String(method)}`);
  if (fused) {
    if (fused.referenceDim !== 2 && fused.referenceDim !== 4) {
      throw new InputError(`msDeformAttnRt: reference points must have 2 or 4 values, got ${fused.referenceDim}`);
    }
    const scale = fused.offsetScale ?? 0.5;
    if (!Number.isFinite(scale)) throw new InputError(`msDeformAttnRt: offsetScale must be finite, got ${scale}`);
  }
}
