/** Query patches from the API (source-pixel rectangles) -> crop rectangles, validated. */
import type { QueryPatch } from '../api/types.js';
import { InputError } from '../errors.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import type { HostTensor } from '../runtime/runner.js';

/**
 * A patch may hang over the image edge (a drag that overshoots): it is clipped to the image. It must
 * keep at least one pixel after clipping (PIL crop rounding), else InputError; so must the count.
 */
export function patchRects(patches: readonly QueryPatch[], size: { width: number; height: number }, maxPatches: number): CropRect[] {
  if (patches.length === 0) throw new InputError('detectWithPatches needs at least one query patch');
  if (patches.length > maxPatches)
    throw new InputError(`${patches.length} query patches given; this model takes at most ${maxPatches} at once`);
  return patches.map((patch, index) => {
    const { x, y, width, height } = patch;
    if (![x, y, width, height].every(Number.isFinite))
      throw new InputError(`query patch ${index} has a non-finite coordinate: ${JSON.stringify(patch)}`);
    if (width <= 0 || height <= 0) throw new InputError(`query patch ${index} has zero or negative size (${width}x${height})`);
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(size.width, x + width);
    const y1 = Math.min(size.height, y + height);
    if (Math.round(x1) - Math.round(x0) < 1 || Math.round(y1) - Math.round(y0) < 1) {
      throw new InputError(
        `query patch ${index} (${JSON.stringify(patch)}) does not cover a pixel of the ${size.width}x${size.height} image`,
      );
    }
    return [x0, y0, x1, y1] as const;
  });
}

/**
 * A package whose patch input has a fixed slot count (a fixed-K export; the shipped one-shot package's
 * count is symbolic, so nothing is filled there) takes exactly `slots` patches: unused slots repeat the
 * last patch. Slots are independent in such a model, so the real patches' results do not change.
 */
export function fillPatchSlots(rects: readonly CropRect[], slots: number | undefined): CropRect[] {
  const last = rects.at(-1);
  if (slots === undefined || last === undefined || rects.length >= slots) return [...rects];
  return [...rects, ...Array.from({ length: slots - rects.length }, () => last)];
}

/**
 * The [1, K, 4] patches input of a box-kind package: each clipped rectangle as x0, y0, x1, y1 over the
 * image's width and height (0..1), the model's own coordinates (the image is stretched to its input).
 */
export function patchBoxTensor(rects: readonly CropRect[], size: { width: number; height: number }): HostTensor {
  const data = new Float32Array(rects.length * 4);
  rects.forEach(([x0, y0, x1, y1], k) => {
    data.set([x0 / size.width, y0 / size.height, x1 / size.width, y1 / size.height], 4 * k);
  });
  return { data, dims: [1, rects.length, 4] };
}
