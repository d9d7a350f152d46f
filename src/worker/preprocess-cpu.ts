/**
 * WASM-backend preprocessing: decoded RGBA pixels -> the model's normalized input tensors with the CPU
 * bilinear kernels (src/kernels/bilinear-cpu.ts: equal to the float64 reference value for value, PIL-bilinear
 * like the GPU path and the official torchvision/PIL transforms). `createCpuPreprocessor` is the engine's
 * Preprocessor on WASM; the tensor functions are also the references the GPU path is tested against.
 */
import { cropResizeCpu, resizeNormalizeCpu } from '../kernels/bilinear-cpu.js';
import type { RgbaPixels } from '../kernels/bilinear-reference.js';
import type { CropRect, NormalizeOptions } from '../kernels/bilinear-options.js';
import type { HostTensor } from '../runtime/runner.js';
import type { Manifest } from '../package/manifest.js';
import { isBoxQueryPatch } from '../package/query-patch.js';
import { fixedInputSize, modelInputSize } from '../package/size-policy.js';
import { rgbaOf } from './image-store.js';
import { patchBoxTensor } from './patches.js';
import { windowRect, type Preprocessor } from './preprocessor.js';

export function normalizeOptionsOf(manifest: Manifest): NormalizeOptions {
  return { mode: 'pil', mean: manifest.input.mean, std: manifest.input.std };
}

/** [1, 3, H, W] at the size policy's size for this picture (fixed, or its shorter side resized, aspect kept). */
export function imageTensorCpu(pixels: RgbaPixels, manifest: Manifest): HostTensor {
  const { height, width } = modelInputSize(manifest, pixels.width, pixels.height);
  const data = resizeNormalizeCpu(pixels, width, height, normalizeOptionsOf(manifest));
  return { data, dims: [1, 3, height, width] };
}

/** [1, K, 3, h, w] query patches cropped from the source pixels. */
export function patchTensorCpu(pixels: RgbaPixels, rects: readonly CropRect[], manifest: Manifest): HostTensor {
  const patch = manifest.input.queryPatch;
  if (patch === undefined || isBoxQueryPatch(patch)) throw new Error('patchTensorCpu: the manifest has no query-patch crops');
  const data = cropResizeCpu(pixels, rects, patch.width, patch.height, normalizeOptionsOf(manifest));
  return { data, dims: [1, rects.length, 3, patch.height, patch.width] };
}

/** [1, 3, H, W]: one rectangle of the source pixels stretched to the model input (zoomed search's windows). */
export function windowTensorCpu(pixels: RgbaPixels, rect: CropRect, manifest: Manifest): HostTensor {
  const { height, width } = fixedInputSize(manifest.input.sizePolicy, 'zoomed search');
  const data = cropResizeCpu(pixels, [rect], width, height, normalizeOptionsOf(manifest));
  return { data, dims: [1, 3, height, width] };
}

/** Host tensors from each image's RGBA (decoded once, kept with the stored image); nothing on a device. */
export function createCpuPreprocessor(manifest: Manifest): Preprocessor {
  const spec = manifest.input.queryPatch;
  return {
    async image(image) {
      return imageTensorCpu(rgbaOf(image), manifest);
    },
    async patches(image, rects) {
      // Box patches: the model pools its own image features over the rectangles, so no pixels, no crops.
      if (spec !== undefined && isBoxQueryPatch(spec)) return patchBoxTensor(rects, image.prepared);
      return patchTensorCpu(rgbaOf(image), rects, manifest);
    },
    async window(image, window) {
      return windowTensorCpu(rgbaOf(image), windowRect(image, window), manifest);
    },
    reset() {},
    dispose() {},
  };
}
