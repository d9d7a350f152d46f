/**
 * Float64 CPU reference for the bilinear kernels, written from PyTorch's and Pillow's definitions
 * (not from the WGSL): torch F.interpolate(mode='bilinear', align_corners=False[, antialias=True])
 * on rgb / 255, or Pillow's uint8 BILINEAR resize ('pil'), then (x - mean) / std. Used by the tests and usable
 * as the runtime's CPU/WASM-path preprocessing.
 */
import {
  planResample,
  type BilinearMode,
  type CropRect,
  type NormalizeOptions,
  type ResamplePlan,
  type RgbaPixels,
} from './bilinear-options.js';

export type { RgbaPixels } from './bilinear-options.js';

/** Interpolation taps of one output index along one axis: input indices and their weights. */
export interface AxisTaps {
  indices: number[];
  weights: number[];
}

/** torch's per-axis taps for `outSize` outputs from `inSize` inputs (scale = in / out). */
export function axisTaps(inSize: number, outSize: number, mode: 'bilinear' | 'antialias'): AxisTaps[] {
  const scale = inSize / outSize;
  const taps: AxisTaps[] = [];
  for (let i = 0; i < outSize; i++) {
    if (mode === 'bilinear') {
      // area_pixel_compute_source_index (align_corners=False), clamped at 0; i1 clamps at the end.
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const i1 = Math.min(i0 + 1, inSize - 1);
      const lambda = src - i0;
      taps.push({ indices: [i0, i1], weights: [1 - lambda, lambda] });
      continue;
    }
    // _compute_weights_aa: triangle filter widened to `support` when downscaling, renormalized.
    const support = Math.max(scale, 1);
    const invScale = scale >= 1 ? 1 / scale : 1;
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const indices: number[] = [];
    const weights: number[] = [];
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const w = Math.max(0, 1 - Math.abs((j - center + 0.5) * invScale));
      indices.push(j);
      weights.push(w);
      total += w;
    }
    taps.push({ indices, weights: total === 0 ? weights : weights.map((w) => w / total) });
  }
  return taps;
}

const PIL_PRECISION_BITS = 22;

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc (Resample.c, BILINEAR, 8-bit images): the
 * float64 triangle-filter weights, normalized, then as fixed point trunc(0.5 + w * 2^22).
 */
export function pilAxisTaps(inSize: number, outSize: number): AxisTaps[] {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear filter's support is 1
  const taps: AxisTaps[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const indices: number[] = [];
    const weights: number[] = [];
    let total = 0;
    for (let x = xmin; x < xmax; x++) {
      const w = Math.max(0, 1 - Math.abs((x - center + 0.5) / filterScale));
      indices.push(x);
      weights.push(w);
      total += w;
    }
    taps.push({ indices, weights: weights.map((w) => Math.trunc(0.5 + (total === 0 ? w : w / total) * 2 ** PIL_PRECISION_BITS)) });
  }
  return taps;
}

/** One fixed-point pass: rounded (+2^21) sum of k * byte, then >> 22 clamped to 0..255 (clip8). */
function pilSum(taps: AxisTaps, byteAt: (index: number) => number): number {
  let sum = 1 << (PIL_PRECISION_BITS - 1);
  taps.indices.forEach((index, t) => {
    sum += (taps.weights[t] as number) * byteAt(index);
  });
  return Math.min(Math.max(Math.floor(sum / 2 ** PIL_PRECISION_BITS), 0), 255);
}

/** Pillow's resize of the region on uint8: horizontal pass to uint8, then vertical pass to uint8. */
function pilRegionBytes(image: RgbaPixels, region: readonly [number, number, number, number], outW: number, outH: number): Uint8Array {
  const [x0, y0, w, h] = region;
  const tapsX = pilAxisTaps(w, outW);
  const tapsY = pilAxisTaps(h, outH);
  const horizontal = new Uint8Array(3 * h * outW); // [3, h, outW]
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let ox = 0; ox < outW; ox++) {
        const at = (x: number) => image.data[((y0 + y) * image.width + x0 + x) * 4 + c] as number;
        horizontal[(c * h + y) * outW + ox] = pilSum(tapsX[ox] as AxisTaps, at);
      }
    }
  }
  const out = new Uint8Array(3 * outH * outW);
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const at = (y: number) => horizontal[(c * h + y) * outW + ox] as number;
        out[(c * outH + oy) * outW + ox] = pilSum(tapsY[oy] as AxisTaps, at);
      }
    }
  }
  return out;
}

/** Resamples the region [x0, x0+w) x [y0, y0+h) into out[offset ..] as [3, outH, outW]. */
function resampleRegion(
  image: RgbaPixels,
  region: readonly [number, number, number, number],
  outW: number,
  outH: number,
  options: { mode: BilinearMode; mean: readonly number[]; std: readonly number[] },
  out: Float64Array,
  offset: number,
): void {
  const plane = outW * outH;
  if (options.mode === 'pil') {
    const bytes = pilRegionBytes(image, region, outW, outH);
    bytes.forEach((byte, i) => {
      const c = Math.floor(i / plane);
      out[offset + i] = (byte / 255 - (options.mean[c] as number)) / (options.std[c] as number);
    });
    return;
  }
  const [x0, y0, w, h] = region;
  const tapsX = axisTaps(w, outW, options.mode);
  const tapsY = axisTaps(h, outH, options.mode);
  for (let oy = 0; oy < outH; oy++) {
    const ty = tapsY[oy] as AxisTaps;
    for (let ox = 0; ox < outW; ox++) {
      const tx = tapsX[ox] as AxisTaps;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        ty.indices.forEach((iy, a) => {
          let row = 0;
          tx.indices.forEach((ix, b) => {
            row += (tx.weights[b] as number) * (image.data[((y0 + iy) * image.width + x0 + ix) * 4 + c] as number);
          });
          sum += (ty.weights[a] as number) * row;
        });
        out[offset + c * plane + oy * outW + ox] = (sum / 255 - (options.mean[c] as number)) / (options.std[c] as number);
      }
    }
  }
}

/** Whole image -> normalized [3, outHeight, outWidth] (float64). */
export function resizeNormalizeReference(
  image: RgbaPixels,
  outWidth: number,
  outHeight: number,
  options: NormalizeOptions = {},
): Float64Array {
  return resampleAll(planResample('resizeNormalizeReference', image, null, outWidth, outHeight, options), image, outWidth, outHeight);
}

/** K rectangles (PIL crop rounding, see roundCropRect) -> normalized [K, 3, outHeight, outWidth]. */
export function cropResizeReference(
  image: RgbaPixels,
  rects: readonly CropRect[],
  outWidth: number,
  outHeight: number,
  options: NormalizeOptions = {},
): Float64Array {
  return resampleAll(planResample('cropResizeReference', image, rects, outWidth, outHeight, options), image, outWidth, outHeight);
}

function resampleAll(plan: ResamplePlan, image: RgbaPixels, outWidth: number, outHeight: number): Float64Array {
  const size = 3 * outWidth * outHeight;
  const out = new Float64Array(plan.regions.length * size);
  plan.regions.forEach((region, k) => {
    resampleRegion(image, region, outWidth, outHeight, plan.options, out, k * size);
  });
  return out;
}
