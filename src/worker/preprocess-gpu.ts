/**
 * WebGPU preprocessing on the runner's device: pixels -> rgba8 texture (pixel uploader) -> our
 * bilinear kernels -> the model's input buffers, which the GPU runner reads in place. Buffers are
 * allocated once per package; kernels are re-prepared only when the source texture changes (a new
 * image size), so a video loop allocates nothing per frame. The texture holds one image at a time:
 * this preprocessor remembers which, so patch crops and window views of that image upload nothing.
 */
import type { RelativeRect } from '../geometry/zoom-windows.js';
import { withGpuErrorScopes } from '../gpu/error-scope.js';
import { createBilinearCropResize, type BilinearCropResizeKernel, type PreparedCropResize } from '../kernels/bilinear-crop-resize.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import {
  createBilinearResizeNormalize,
  type BilinearResizeNormalizeKernel,
  type PreparedResizeNormalize,
} from '../kernels/bilinear-resize-normalize.js';
import { createPixelUploader, type PixelUploader } from '../kernels/pixel-upload.js';
import type { GpuTensorRef } from '../runtime/runner.js';
import type { Manifest } from '../package/manifest.js';
import { isBoxQueryPatch } from '../package/query-patch.js';
import { modelInputSize } from '../package/size-policy.js';
import type { StoredImage } from './image-store.js';
import { patchBoxTensor } from './patches.js';
import { normalizeOptionsOf } from './preprocess-cpu.js';
import { windowRect, type Preprocessor } from './preprocessor.js';

export async function createGpuPreprocessor(device: GPUDevice, manifest: Manifest): Promise<Preprocessor> {
  const policy = manifest.input.sizePolicy;
  // Fixed packages: one size; shorter-side packages: each picture's own, the image buffer grows to the largest.
  const windowSize = policy.kind === 'fixed' ? policy : undefined;
  const normalize = normalizeOptionsOf(manifest);
  // Box patches (kind 'boxes') need no crops: their rectangles go to the runner as a small host tensor.
  const querySpec = manifest.input.queryPatch;
  const boxPatches = querySpec !== undefined && isBoxQueryPatch(querySpec);
  const patchSpec = querySpec !== undefined && !isBoxQueryPatch(querySpec) ? querySpec : undefined;
  const uploader: PixelUploader = createPixelUploader(device);
  const resize: BilinearResizeNormalizeKernel = await createBilinearResizeNormalize(device);
  const zooms = querySpec !== undefined && isBoxQueryPatch(querySpec) && querySpec.zoom !== undefined;
  const crop: BilinearCropResizeKernel | undefined = patchSpec || zooms ? await createBilinearCropResize(device) : undefined;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const imageFloats = (size: { height: number; width: number }) => 3 * size.height * size.width;
  let imageBuffer = device.createBuffer({
    label: 'webdetr:image',
    size: imageFloats(windowSize ?? { height: 1, width: 1 }) * 4,
    usage,
  });
  /** The image buffer, at least `size` (a larger picture than before replaces it; kernels bound to it re-prepare). */
  function imageBufferFor(size: { height: number; width: number }): GPUBuffer {
    if (imageBuffer.size >= imageFloats(size) * 4) return imageBuffer;
    preparedResize?.kernel.dispose();
    preparedWindow?.kernel.dispose();
    preparedResize = undefined;
    preparedWindow = undefined;
    imageBuffer.destroy();
    imageBuffer = device.createBuffer({ label: 'webdetr:image', size: imageFloats(size) * 4, usage });
    return imageBuffer;
  }
  const patchFloats = patchSpec ? patchSpec.maxPatches * 3 * patchSpec.height * patchSpec.width : 0;
  const patchBuffer = patchSpec ? device.createBuffer({ label: 'webdetr:patches', size: patchFloats * 4, usage }) : undefined;
  let preparedResize: { texture: GPUTexture; height: number; width: number; kernel: PreparedResizeNormalize } | undefined;
  let preparedCrop: { texture: GPUTexture; kernel: PreparedCropResize } | undefined;
  // A window crop writes the image buffer: the image pipeline reads it during its run only.
  let preparedWindow: { texture: GPUTexture; kernel: PreparedCropResize } | undefined;
  /** The stored image whose pixels the texture holds (patch crops and windows read it). */
  let uploaded: number | undefined;

  function submit(label: string, encode: (pass: GPUComputePassEncoder) => void): void {
    const encoder = device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
  }

  function textureOf(image: StoredImage): GPUTexture {
    const held = uploader.texture;
    if (uploaded === image.prepared.id && held !== undefined) return held;
    const texture = uploader.upload(image.pixels);
    uploaded = image.prepared.id;
    return texture;
  }

  /**
   * Runs `work` and waits for its GPU work (an honest preprocess time) inside error scopes: an image
   * whose texture does not fit in GPU memory becomes a GpuError naming its size.
   */
  function scoped<T>(image: StoredImage, work: () => T): Promise<T> {
    const { width: w, height: h } = image.prepared;
    const mib = ((w * h * 4) / 2 ** 20).toFixed(1);
    const label = `preprocessing a ${w}x${h} image (${mib} MiB as a GPU texture; scale it down if the GPU runs out of memory)`;
    return withGpuErrorScopes(device, label, async () => {
      const result = work();
      await device.queue.onSubmittedWorkDone();
      return result;
    });
  }

  function resizeImage(image: StoredImage): GpuTensorRef {
    const { height, width } = modelInputSize(manifest, image.prepared.width, image.prepared.height);
    const output = imageBufferFor({ height, width });
    const texture = uploader.upload(image.pixels);
    uploaded = image.prepared.id;
    if (preparedResize?.texture !== texture || preparedResize.height !== height || preparedResize.width !== width) {
      preparedResize?.kernel.dispose();
      preparedResize = {
        texture,
        height,
        width,
        kernel: resize.prepare({ source: texture, output, outWidth: width, outHeight: height, ...normalize }),
      };
    }
    const kernel = preparedResize.kernel;
    submit('webdetr:preprocess', (pass) => kernel.encode(pass));
    return { buffer: output, dims: [1, 3, height, width] };
  }

  function cropPatches(image: StoredImage, rects: readonly CropRect[]): GpuTensorRef {
    if (!patchSpec || !crop || !patchBuffer) throw new Error('GpuPreprocessor: the manifest has no query-patch crops');
    const texture = textureOf(image);
    if (preparedCrop?.texture !== texture) {
      preparedCrop?.kernel.dispose();
      preparedCrop = {
        texture,
        kernel: crop.prepare({
          source: texture,
          output: patchBuffer,
          maxRects: patchSpec.maxPatches,
          outWidth: patchSpec.width,
          outHeight: patchSpec.height,
          ...normalize,
        }),
      };
    }
    const kernel = preparedCrop.kernel;
    kernel.setRects(rects);
    submit('webdetr:patch-crops', (pass) => kernel.encode(pass));
    return { buffer: patchBuffer, dims: [1, rects.length, 3, patchSpec.height, patchSpec.width] };
  }

  function cropWindow(image: StoredImage, window: RelativeRect): GpuTensorRef {
    if (!zooms || !crop || windowSize === undefined) throw new Error('GpuPreprocessor: the manifest has no zoomed search');
    const { height, width } = windowSize;
    const texture = textureOf(image);
    if (preparedWindow?.texture !== texture) {
      preparedWindow?.kernel.dispose();
      preparedWindow = {
        texture,
        kernel: crop.prepare({ source: texture, output: imageBuffer, maxRects: 1, outWidth: width, outHeight: height, ...normalize }),
      };
    }
    const kernel = preparedWindow.kernel;
    kernel.setRects([windowRect(image, window)]);
    submit('webdetr:window-crop', (pass) => kernel.encode(pass));
    return { buffer: imageBuffer, dims: [1, 3, height, width] };
  }

  function disposeKernels(): void {
    preparedResize?.kernel.dispose();
    preparedCrop?.kernel.dispose();
    preparedWindow?.kernel.dispose();
  }

  return {
    image: (image) => scoped(image, () => resizeImage(image)),
    async patches(image, rects) {
      if (boxPatches) return patchBoxTensor(rects, image.prepared);
      return scoped(image, () => cropPatches(image, rects));
    },
    window: (image, window) => scoped(image, () => cropWindow(image, window)),
    reset() {
      disposeKernels();
      preparedResize = undefined;
      preparedCrop = undefined;
      preparedWindow = undefined;
      uploaded = undefined;
      uploader.reset();
    },
    dispose() {
      disposeKernels();
      resize.dispose();
      crop?.dispose();
      uploader.dispose();
      imageBuffer.destroy();
      patchBuffer?.destroy();
    },
  };
}
