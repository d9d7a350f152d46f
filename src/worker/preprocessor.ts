/**
 * Preprocessing behind one interface: a stored image's pixels -> the model's input tensors, where the
 * runner reads them. Two implementations: preprocess-gpu.ts (WGSL bilinear kernels; tensors stay in GPU
 * buffers, the last image's pixels in a texture it re-uploads only for another image) and
 * preprocess-cpu.ts (the kernels' TypeScript reference on the image's RGBA, decoded once). The engine
 * picks one with the runner and never asks which it holds.
 */
import type { RelativeRect } from '../geometry/zoom-windows.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import type { RunnerInput } from '../runtime/runner.js';
import type { StoredImage } from './image-store.js';

export interface Preprocessor {
  /** The whole image resized to the model input and normalized: [1, 3, H, W]. */
  image(image: StoredImage): Promise<RunnerInput>;
  /**
   * The query patches (source-pixel rectangles of `image`) as the package's patches input: crops
   * [1, K, 3, h, w], or for box-kind packages the rectangles relative to the image [1, K, 4].
   */
  patches(image: StoredImage, rects: readonly CropRect[]): Promise<RunnerInput>;
  /** `window` (relative to the image) stretched to the model input: [1, 3, H, W] (zoomed search's views). */
  window(image: StoredImage, window: RelativeRect): Promise<RunnerInput>;
  /** Forgets what it holds on the device after a GPU error (it may be invalid): the next call starts clean. */
  reset(): void;
  dispose(): void;
}

/** `window` (relative to the image) in the image's source pixels. */
export function windowRect(image: StoredImage, window: RelativeRect): CropRect {
  const { width, height } = image.prepared;
  return [window[0] * width, window[1] * height, window[2] * width, window[3] * height];
}
