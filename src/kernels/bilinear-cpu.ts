/**
 * The CPU (WASM backend) bilinear kernels: whole picture -> normalized [3, H, W], and crop rectangles ->
 * [K, 3, h, w], in float32. Same results as the float64 reference (bilinear-reference.ts, the spec): the
 * same taps, summed in the same order, separably (each input row's horizontal sums once, then the vertical
 * pass); 'pil' in Pillow's 22-bit integer arithmetic with a per-channel normalization table, so it stays
 * byte-identical. The reference recomputed the horizontal sums for every output row and called closures
 * per tap; this file is the same formulas over flat typed arrays.
 */
import { axisTaps, pilAxisTaps, type AxisTaps } from './bilinear-reference.js';
import {
  planResample,
  type CropRect,
  type NormalizeOptions,
  type ResamplePlan,
  type ResolvedNormalizeOptions,
  type RgbaPixels,
} from './bilinear-options.js';

/**
 * Taps of one axis as flat arrays: output i has count[i] taps, weights[i * width ..], the first reading input
 * first[i]. Pillow's taps read consecutive inputs; torch's 'bilinear' may repeat the last one (i0 == i1 at the
 * edge), so the float path reads each tap's index from the AxisTaps.
 */
interface FlatTaps {
  first: Int32Array;
  count: Int32Array;
  width: number;
  weights: Float64Array;
}

function flatten(taps: readonly AxisTaps[]): FlatTaps {
  const width = Math.max(...taps.map((t) => t.indices.length));
  const first = new Int32Array(taps.length);
  const count = new Int32Array(taps.length);
  const weights = new Float64Array(taps.length * width);
  taps.forEach((t, i) => {
    first[i] = t.indices[0] ?? 0;
    count[i] = t.indices.length;
    weights.set(t.weights, i * width);
  });
  return { first, count, width, weights };
}

/** Index of tap k of output i (the torch 'bilinear' taps may repeat the last input index). */
function tapIndex(taps: readonly AxisTaps[], i: number, k: number): number {
  return taps[i]!.indices[k]!;
}

/** (byte / 255 - mean) / std for every byte value, per channel, computed in float64 as the reference does. */
function normalizationTable(options: ResolvedNormalizeOptions): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let b = 0; b < 256; b++) table[c * 256 + b] = (b / 255 - options.mean[c]!) / options.std[c]!;
  return table;
}

const PIL_SHIFT = 22;
const PIL_ROUND = 1 << (PIL_SHIFT - 1);

/** Pillow's two uint8 passes over the region, then the normalization table, into out[offset ..]. */
function pilRegion(
  image: RgbaPixels,
  region: readonly number[],
  outW: number,
  outH: number,
  table: Float32Array,
  out: Float32Array,
  offset: number,
): void {
  const [x0, y0, w, h] = region as [number, number, number, number];
  const tx = flatten(pilAxisTaps(w, outW));
  const ty = flatten(pilAxisTaps(h, outH));
  const kx = Int32Array.from(tx.weights);
  const ky = Int32Array.from(ty.weights);
  const src = image.data;
  const stride = image.width * 4;
  // Horizontal pass: only the input rows the vertical taps read, as [h, outW, 3] bytes.
  const rowsFrom = ty.first[0]!;
  const rowsTo = ty.first[outH - 1]! + ty.count[outH - 1]!;
  const horizontal = new Uint8Array((rowsTo - rowsFrom) * outW * 3);
  for (let y = rowsFrom; y < rowsTo; y++) {
    const rowStart = (y0 + y) * stride + x0 * 4;
    let at = (y - rowsFrom) * outW * 3;
    for (let ox = 0; ox < outW; ox++, at += 3) {
      let r = PIL_ROUND;
      let g = PIL_ROUND;
      let b = PIL_ROUND;
      const n = tx.count[ox]!;
      let p = rowStart + tx.first[ox]! * 4;
      const k0 = ox * tx.width;
      for (let k = 0; k < n; k++, p += 4) {
        const weight = kx[k0 + k]!;
        r += weight * src[p]!;
        g += weight * src[p + 1]!;
        b += weight * src[p + 2]!;
      }
      horizontal[at] = clip8(r);
      horizontal[at + 1] = clip8(g);
      horizontal[at + 2] = clip8(b);
    }
  }
  const plane = outW * outH;
  const rowLength = outW * 3;
  for (let oy = 0; oy < outH; oy++) {
    const n = ty.count[oy]!;
    const base = (ty.first[oy]! - rowsFrom) * rowLength;
    const k0 = oy * ty.width;
    for (let ox = 0; ox < outW; ox++) {
      let r = PIL_ROUND;
      let g = PIL_ROUND;
      let b = PIL_ROUND;
      let p = base + ox * 3;
      for (let k = 0; k < n; k++, p += rowLength) {
        const weight = ky[k0 + k]!;
        r += weight * horizontal[p]!;
        g += weight * horizontal[p + 1]!;
        b += weight * horizontal[p + 2]!;
      }
      const o = offset + oy * outW + ox;
      out[o] = table[clip8(r)]!;
      out[o + plane] = table[256 + clip8(g)]!;
      out[o + 2 * plane] = table[512 + clip8(b)]!;
    }
  }
}

/** Pillow's clip8: the fixed-point sum >> 22, clamped to a byte (sums are below 2^31 for factors <= 64). */
function clip8(sum: number): number {
  const v = sum >> PIL_SHIFT;
  return v < 0 ? 0 : Math.min(v, 255);
}

/** torch 'bilinear' / 'antialias' in float64, separable in the reference's summation order. */
function floatRegion(
  image: RgbaPixels,
  region: readonly number[],
  outW: number,
  outH: number,
  options: ResolvedNormalizeOptions,
  out: Float32Array,
  offset: number,
): void {
  const [x0, y0, w, h] = region as [number, number, number, number];
  const mode = options.mode === 'antialias' ? 'antialias' : 'bilinear';
  const tapsX = axisTaps(w, outW, mode);
  const tapsY = axisTaps(h, outH, mode);
  const tx = flatten(tapsX);
  const src = image.data;
  const stride = image.width * 4;
  // Horizontal sums of every input row (lazily, only rows a vertical tap reads): [row][ox][3].
  const rows = new Map<number, Float64Array>();
  const rowOf = (iy: number): Float64Array => {
    let row = rows.get(iy);
    if (row !== undefined) return row;
    row = new Float64Array(outW * 3);
    const rowStart = (y0 + iy) * stride;
    for (let ox = 0; ox < outW; ox++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < tx.count[ox]!; k++) {
        const p = rowStart + (x0 + tapIndex(tapsX, ox, k)) * 4;
        const weight = tx.weights[ox * tx.width + k]!;
        r += weight * src[p]!;
        g += weight * src[p + 1]!;
        b += weight * src[p + 2]!;
      }
      row[ox * 3] = r;
      row[ox * 3 + 1] = g;
      row[ox * 3 + 2] = b;
    }
    rows.set(iy, row);
    return row;
  };
  const plane = outW * outH;
  const [m0, m1, m2] = options.mean;
  const [s0, s1, s2] = options.std;
  for (let oy = 0; oy < outH; oy++) {
    const ty = tapsY[oy]!;
    const taps = ty.indices.map(rowOf);
    for (let ox = 0; ox < outW; ox++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let a = 0; a < taps.length; a++) {
        const weight = ty.weights[a]!;
        const row = taps[a]!;
        r += weight * row[ox * 3]!;
        g += weight * row[ox * 3 + 1]!;
        b += weight * row[ox * 3 + 2]!;
      }
      const o = offset + oy * outW + ox;
      out[o] = (r / 255 - m0) / s0;
      out[o + plane] = (g / 255 - m1) / s1;
      out[o + 2 * plane] = (b / 255 - m2) / s2;
    }
    for (const iy of rows.keys()) if (iy < (tapsY[oy + 1]?.indices[0] ?? Infinity)) rows.delete(iy);
  }
}

/** Whole image -> normalized [3, outHeight, outWidth]. */
export function resizeNormalizeCpu(image: RgbaPixels, outWidth: number, outHeight: number, options: NormalizeOptions = {}): Float32Array {
  return resampleAll(planResample('resizeNormalize (cpu)', image, null, outWidth, outHeight, options), image, outWidth, outHeight);
}

/** K rectangles (PIL crop rounding, see roundCropRect) -> normalized [K, 3, outHeight, outWidth]. */
export function cropResizeCpu(
  image: RgbaPixels,
  rects: readonly CropRect[],
  outWidth: number,
  outHeight: number,
  options: NormalizeOptions = {},
): Float32Array {
  return resampleAll(planResample('cropResize (cpu)', image, rects, outWidth, outHeight, options), image, outWidth, outHeight);
}

function resampleAll(plan: ResamplePlan, image: RgbaPixels, outWidth: number, outHeight: number): Float32Array {
  const size = 3 * outWidth * outHeight;
  const out = new Float32Array(plan.regions.length * size);
  const table = plan.options.mode === 'pil' ? normalizationTable(plan.options) : undefined;
  plan.regions.forEach((region, k) => {
    if (table !== undefined) pilRegion(image, region, outWidth, outHeight, table, out, k * size);
    else floatRegion(image, region, outWidth, outHeight, plan.options, out, k * size);
  });
  return out;
}
