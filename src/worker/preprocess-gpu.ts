/**
 * WebGPU preprocessing on the runner's device: pixels -> rgba8 texture (pixel uploader) -> our
 * bilinear kernels -> the model's input buffers, which the GPU runner reads in place. Buffers are
 * allocated once per package; kernels are re-prepared only when the source texture changes (a new
 * image size), so a video loop allocates nothing per frame.
 */
import { createBilinearCropResize, type BilinearCropResizeKernel, type PreparedCropResize } from '../kernels/bilinear-crop-resize.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import { createBilinearResizeNormalize, type BilinearResizeNormalizeKernel, type PreparedResizeNormalize } from '../kernels/bilinear-resize-normalize.js';
import { createPixelUploader, type PixelSource, type PixelUploader } from '../kernels/pixel-upload.js';
import type { GpuTensorRef } from '../runtime/runner.js';
import type { Manifest } from '../package/manifest.js';
import { isBoxQueryPatch } from '../package/query-patch.js';
import { normalizeOptionsOf } from './preprocess-cpu.js';

export interface GpuPreprocessor {
  /** Uploads the pixels (the texture stays for later patch crops) and writes the image tensor. */
  image(source: PixelSource): GpuTensorRef;
  /** Uploads pixels without resizing (when only patches are needed from a new image). */
  upload(source: PixelSource): void;
  /** Crops the rectangles from the last uploaded image into the [1, K, 3, h, w] patch tensor (crop-kind packages). */
  patches(rects: readonly CropRect[]): GpuTensorRef;
  /**
   * Crops one rectangle (source pixels) of the last uploaded image, stretched to the model input, into the
   * image tensor (zoomed search's window views; packages with input.queryPatch.zoom).
   */
  window(rect: CropRect): GpuTensorRef;
  /** Bytes of the GPU buffers and texture it owns. */
  readonly bufferBytes: number;
  /**
   * Drops the source texture and the kernels prepared on it, so the next call starts clean: after a GPU
   * error (an image too large for the GPU's memory) they may be invalid.
   */
  reset(): void;
  dispose(): void;
}

export async function createGpuPreprocessor(device: GPUDevice, manifest: Manifest): Promise<GpuPreprocessor> {
  const { height, width } = manifest.input.sizePolicy;
  const normalize = normalizeOptionsOf(manifest);
  // Box patches (kind 'boxes') need no crops: the engine passes their rectangles as a small host tensor.
  const querySpec = manifest.input.queryPatch;
  const patchSpec = querySpec !== undefined && !isBoxQueryPatch(querySpec) ? querySpec : undefined;
  const uploader: PixelUploader = createPixelUploader(device);
  const resize: BilinearResizeNormalizeKernel = await createBilinearResizeNormalize(device);
  const zooms = querySpec !== undefined && isBoxQueryPatch(querySpec) && querySpec.zoom !== undefined;
  const crop: BilinearCropResizeKernel | undefined = patchSpec || zooms ? await createBilinearCropResize(device) : undefined;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const imageBuffer = device.createBuffer({ label: 'webdetr:image', size: 3 * height * width * 4, usage });
  const patchFloats = patchSpec ? patchSpec.maxPatches * 3 * patchSpec.height * patchSpec.width : 0;
  const patchBuffer = patchSpec ? device.createBuffer({ label: 'webdetr:patches', size: patchFloats * 4, usage }) : undefined;
  let preparedResize: { texture: GPUTexture; kernel: PreparedResizeNormalize } | undefined;
  let preparedCrop: { texture: GPUTexture; kernel: PreparedCropResize } | undefined;
  // A window crop writes the image buffer: the image pipeline reads it during its run only.
  let preparedWindow: { texture: GPUTexture; kernel: PreparedCropResize } | undefined;

  function submit(label: string, encode: (pass: GPUComputePassEncoder) => void): void {
    const encoder = device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
  }

  function currentTexture(): GPUTexture {
    const texture = uploader.texture;
    if (texture === undefined) throw new Error('GpuPreprocessor: no image uploaded yet');
    return texture;
  }

  return {
    image(source) {
      const texture = uploader.upload(source);
      if (preparedResize?.texture !== texture) {
        preparedResize?.kernel.dispose();
        preparedResize = { texture, kernel: resize.prepare({ source: texture, output: imageBuffer, outWidth: width, outHeight: height, ...normalize }) };
      }
      const kernel = preparedResize.kernel;
      submit('webdetr:preprocess', (pass) => kernel.encode(pass));
      return { buffer: imageBuffer, dims: [1, 3, height, width] };
    },
    upload(source) {
      uploader.upload(source);
    },
    patches(rects) {
      if (!patchSpec || !crop || !patchBuffer) throw new Error('GpuPreprocessor: the manifest has no query-patch crops');
      const texture = currentTexture();
      if (preparedCrop?.texture !== texture) {
        preparedCrop?.kernel.dispose();
        preparedCrop = {
          texture,
          kernel: crop.prepare({ source: texture, output: patchBuffer, maxRects: patchSpec.maxPatches, outWidth: patchSpec.width, outHeight: patchSpec.height, ...normalize }),
        };
      }
      const kernel = preparedCrop.kernel;
      kernel.setRects(rects);
      submit('webdetr:patch-crops', (pass) => kernel.encode(pass));
      return { buffer: patchBuffer, dims: [1, rects.length, 3, patchSpec.height, patchSpec.width] };
    },
    window(rect) {
      if (!zooms || !crop) throw new Error('GpuPreprocessor: the manifest has no zoomed search');
      const texture = currentTexture();
      if (preparedWindow?.texture !== texture) {
        preparedWindow?.kernel.dispose();
        preparedWindow = { texture, kernel: crop.prepare({ source: texture, output: imageBuffer, maxRects: 1, outWidth: width, outHeight: height, ...normalize }) };
      }
      const kernel = preparedWindow.kernel;
      kernel.setRects([rect]);
      submit('webdetr:window-crop', (pass) => kernel.encode(pass));
      return { buffer: imageBuffer, dims: [1, 3, height, width] };
    },
    get bufferBytes() {
      const texture = uploader.texture;
      return imageBuffer.size + (patchBuffer?.size ?? 0) + (texture ? texture.width * texture.height * 4 : 0);
    },
    reset() {
      preparedResize?.kernel.dispose();
      preparedCrop?.kernel.dispose();
      preparedWindow?.kernel.dispose();
      preparedResize = undefined;
      preparedCrop = undefined;
      preparedWindow = undefined;
      uploader.reset();
    },
    dispose() {
      preparedResize?.kernel.dispose();
      preparedCrop?.kernel.dispose();
      preparedWindow?.kernel.dispose();
      resize.dispose();
      crop?.dispose();
      uploader.dispose();
      imageBuffer.destroy();
      patchBuffer?.destroy();
    },
  };
}
