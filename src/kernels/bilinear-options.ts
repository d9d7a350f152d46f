/**
 * Options, limits and validation shared by the bilinear kernels (resize+normalize, crop+resize) and
 * their float64 reference, so the GPU and CPU paths accept and reject exactly the same inputs.
 */
import { InputError } from '../errors.js';

/**
 * 'bilinear' = torch F.interpolate(mode='bilinear', align_corners=False);
 * 'antialias' = the same with antialias=True (triangle filter widened by the downscale factor, what
 * torchvision / PIL resizing does; identical to 'bilinear' when upscaling);
 * 'pil' = Pillow's Image.resize(BILINEAR) on the uint8 pixels: the 'antialias' weights in 22-bit
 * fixed point, rounded to uint8 after the horizontal and after the vertical pass (bit-exact).
 */
export type BilinearMode = 'bilinear' | 'antialias' | 'pil';
export const BILINEAR_MODES: readonly BilinearMode[] = ['bilinear', 'antialias', 'pil'];

export type Rgb = readonly [number, number, number];

export const IMAGENET_MEAN: Rgb = [0.485, 0.456, 0.406];
export const IMAGENET_STD: Rgb = [0.229, 0.224, 0.225];

/**
 * Largest per-axis downscale factor (input / output) accepted in 'antialias' and 'pil' modes. The kernels loop
 * over the whole filter window (up to 2*factor + 1 pixels per axis), so this bounds one invocation's
 * work at ~129 x 129 texel loads; larger factors should be reduced in steps.
 */
export const MAX_ANTIALIAS_DOWNSCALE = 64;
/** Largest output side; keeps the kernels' integer index math far from i32 overflow. */
export const MAX_OUTPUT_SIDE = 16384;

export interface NormalizeOptions {
  /** Default 'bilinear'. */
  mode?: BilinearMode;
  /** Per-channel mean of rgb / 255 (default ImageNet). */
  mean?: Rgb;
  /** Per-channel std (default ImageNet); output = (rgb / 255 - mean) / std. */
  std?: Rgb;
}

export interface ResolvedNormalizeOptions {
  mode: BilinearMode;
  mean: Rgb;
  std: Rgb;
}

export function resolveNormalizeOptions(what: string, options: NormalizeOptions): ResolvedNormalizeOptions {
  const mode = options.mode ?? 'bilinear';
  if (!BILINEAR_MODES.includes(mode)) throw new InputError(`${what}: unknown mode ${String(mode)}`);
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  if (mean.length !== 3 || !mean.every(Number.isFinite)) throw new InputError(`${what}: mean must be 3 finite numbers`);
  if (std.length !== 3 || !std.every((s) => Number.isFinite(s) && s !== 0)) {
    throw new InputError(`${what}: std must be 3 finite non-zero numbers`);
  }
  return { mode, mean, std };
}

export function validateOutputSize(what: string, width: number, height: number): void {
  for (const [name, side] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(side) || side < 1 || side > MAX_OUTPUT_SIDE) {
      throw new InputError(`${what}: output ${name} must be an integer in [1, ${MAX_OUTPUT_SIDE}], got ${side}`);
    }
  }
}

/** Throws when 'antialias' / 'pil' would need a filter window beyond MAX_ANTIALIAS_DOWNSCALE. */
export function validateDownscale(what: string, mode: BilinearMode, inW: number, inH: number, outW: number, outH: number): void {
  if (mode === 'bilinear') return;
  const factor = Math.max(inW / outW, inH / outH);
  if (factor > MAX_ANTIALIAS_DOWNSCALE) {
    throw new InputError(
      `${what}: ${mode} downscale factor ${factor.toFixed(2)} exceeds ${MAX_ANTIALIAS_DOWNSCALE} ` +
        `(${inW}x${inH} -> ${outW}x${outH}); resize in steps`,
    );
  }
}

/** A rectangle in image pixels: x0, y0 (inclusive) and x1, y1 (exclusive); may be fractional. */
export type CropRect = readonly [x0: number, y0: number, x1: number, y1: number];

/** Python's round(): nearest integer, ties to even (what PIL's Image.crop applies to its box). */
export function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Crop semantics (PIL's Image.crop): each coordinate is rounded to the nearest integer, ties to
 * even; the integer rectangle must be non-empty and inside the image (0 <= x0 < x1 <= width,
 * 0 <= y0 < y1 <= height), otherwise InputError. PIL would pad outside pixels with black; we refuse.
 */
export function roundCropRect(what: string, rect: CropRect, width: number, height: number): [number, number, number, number] {
  if (rect.length !== 4 || !rect.every(Number.isFinite))
    throw new InputError(`${what}: a rectangle needs 4 finite numbers, got [${rect.join(', ')}]`);
  const [x0, y0, x1, y1] = rect.map(roundHalfToEven) as [number, number, number, number];
  if (x1 <= x0 || y1 <= y0) throw new InputError(`${what}: rectangle [${rect.join(', ')}] rounds to zero area`);
  if (x0 < 0 || y0 < 0 || x1 > width || y1 > height) {
    throw new InputError(`${what}: rectangle [${rect.join(', ')}] leaves the ${width}x${height} image`);
  }
  return [x0, y0, x1, y1];
}

/** Row-major RGBA8 pixels (ImageData or a decoded buffer); alpha is ignored. */
export interface RgbaPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** What every bilinear path resamples for one call: the resolved options and each region as [x0, y0, w, h]. */
export interface ResamplePlan {
  options: ResolvedNormalizeOptions;
  regions: Array<readonly [x0: number, y0: number, width: number, height: number]>;
}

/**
 * Validates a whole-picture (rects null) or crop request exactly as every bilinear path does (the CPU kernel, the
 * float64 reference; the GPU wrappers check the same limits) and returns what to resample.
 */
export function planResample(
  what: string,
  image: RgbaPixels,
  rects: readonly CropRect[] | null,
  outWidth: number,
  outHeight: number,
  options: NormalizeOptions,
): ResamplePlan {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`${what}: image size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * 4) throw new InputError(`${what}: expected ${width * height * 4} RGBA bytes, got ${data.length}`);
  validateOutputSize(what, outWidth, outHeight);
  const resolved = resolveNormalizeOptions(what, options);
  if (rects !== null && rects.length === 0) throw new InputError(`${what}: no rectangles`);
  const regions = (rects ?? [[0, 0, width, height] as const]).map((rect) => {
    const [x0, y0, x1, y1] = rects === null ? rect : roundCropRect(what, rect, width, height);
    validateDownscale(what, resolved.mode, x1 - x0, y1 - y0, outWidth, outHeight);
    return [x0, y0, x1 - x0, y1 - y0] as const;
  });
  return { options: resolved, regions };
}
