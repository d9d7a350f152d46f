/**
 * Loads a bilinear parity fixture (tools/fixtures/bilinear.py) and runs it through the WGSL kernels
 * and the float64 reference. Environment-free: the Node test and the chromium page both use it.
 * Errors are measured in [0, 1] pixel units: normalized outputs are mapped back with x*std + mean
 * and compared with torch's un-normalized resize of rgb / 255.
 */
import { readFloat32 } from '../../src/gpu/buffers.js';
import { withGpuErrorScopes } from '../../src/gpu/error-scope.js';
import type { BilinearMode, CropRect, Rgb } from '../../src/kernels/bilinear-options.js';
import type { BilinearCropResizeKernel } from '../../src/kernels/bilinear-crop-resize.js';
import { cropResizeReference, resizeNormalizeReference, type RgbaPixels } from '../../src/kernels/bilinear-reference.js';
import type { BilinearResizeNormalizeKernel } from '../../src/kernels/bilinear-resize-normalize.js';
import type { PixelUploader } from '../../src/kernels/pixel-upload.js';

/** Max |kernel - torch| in [0, 1] pixel units (issue 3); in normalized units this is 1e-4 / std. */
export const PIXEL_TOLERANCE = 1e-4;

export interface BilinearCaseMeta {
  name: string;
  op: 'resize' | 'crop';
  mode: BilinearMode;
  seed: number;
  inWidth: number;
  inHeight: number;
  outWidth: number;
  outHeight: number;
  rects?: CropRect[];
  mean: Rgb;
  std: Rgb;
}

export interface BilinearCase {
  meta: BilinearCaseMeta;
  image: RgbaPixels;
  /** torch's resize of rgb / 255, before normalization: [3, H, W] or [K, 3, H, W]. */
  expected: Float32Array;
}

export function parseCase(meta: BilinearCaseMeta, blob: ArrayBuffer): BilinearCase {
  const imageBytes = meta.inWidth * meta.inHeight * 4;
  const data = new Uint8Array(blob, 0, imageBytes);
  const expected = new Float32Array(blob.slice(imageBytes));
  return { meta, image: { data, width: meta.inWidth, height: meta.inHeight }, expected };
}

/** Max over elements of |normalized * std + mean - expected| (layout [..., 3, H, W]). */
export function maxPixelError(normalized: ArrayLike<number>, c: BilinearCase): number {
  const plane = c.meta.outWidth * c.meta.outHeight;
  let worst = 0;
  if (normalized.length !== c.expected.length) return Infinity;
  for (let i = 0; i < normalized.length; i++) {
    const channel = Math.floor(i / plane) % 3;
    const pixel = (normalized[i] as number) * (c.meta.std[channel] as number) + (c.meta.mean[channel] as number);
    const error = Math.abs(pixel - (c.expected[i] as number));
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}

export function referenceFor(c: BilinearCase): Float64Array {
  const { meta } = c;
  const options = { mode: meta.mode, mean: meta.mean, std: meta.std };
  return meta.op === 'resize'
    ? resizeNormalizeReference(c.image, meta.outWidth, meta.outHeight, options)
    : cropResizeReference(c.image, meta.rects ?? [], meta.outWidth, meta.outHeight, options);
}

export interface BilinearKernels {
  uploader: PixelUploader;
  resize: BilinearResizeNormalizeKernel;
  crop: BilinearCropResizeKernel;
}

/** Uploads the case's pixels, runs its kernel inside error scopes and reads the output back. */
export async function runOnGpu(device: GPUDevice, kernels: BilinearKernels, c: BilinearCase): Promise<Float32Array> {
  const { meta } = c;
  const count = c.expected.length;
  const output = device.createBuffer({
    label: `test:${meta.name}`,
    size: count * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  try {
    return await withGpuErrorScopes(device, meta.name, async () => {
      const source = kernels.uploader.upload(c.image);
      const options = {
        source,
        output,
        outWidth: meta.outWidth,
        outHeight: meta.outHeight,
        mode: meta.mode,
        mean: meta.mean,
        std: meta.std,
      };
      let call: { encode(pass: GPUComputePassEncoder): void; dispose(): void };
      if (meta.op === 'resize') {
        call = kernels.resize.prepare(options);
      } else {
        const rects = meta.rects ?? [];
        const crop = kernels.crop.prepare({ ...options, maxRects: rects.length });
        crop.setRects(rects);
        call = crop;
      }
      const encoder = device.createCommandEncoder({ label: `test:${meta.name}` });
      const pass = encoder.beginComputePass();
      call.encode(pass);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const result = await readFloat32(device, output, count);
      call.dispose();
      return result;
    });
  } finally {
    output.destroy();
  }
}
