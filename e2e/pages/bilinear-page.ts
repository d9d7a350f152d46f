/**
 * Browser side of e2e/kernels-bilinear.spec.ts. window.runBilinearFixtures() runs every bilinear
 * fixture (tools/fixtures/bilinear.py) through the WGSL kernels on navigator.gpu;
 * window.runBilinearUploadPaths() feeds one opaque test image through each real upload path
 * (ImageData via writeTexture; ImageBitmap, canvas, OffscreenCanvas, VideoFrame via
 * copyExternalImageToTexture) and compares every mode with the float64 reference.
 */
import { InputError } from '../../src/errors.js';
import { acquireDevice, type AdapterSummary } from '../../src/gpu/device.js';
import { readFloat32 } from '../../src/gpu/buffers.js';
import { withGpuErrorScopes } from '../../src/gpu/error-scope.js';
import { BILINEAR_MODES, IMAGENET_MEAN, IMAGENET_STD, type CropRect } from '../../src/kernels/bilinear-options.js';
import { createBilinearCropResize } from '../../src/kernels/bilinear-crop-resize.js';
import { cropResizeReference, resizeNormalizeReference } from '../../src/kernels/bilinear-reference.js';
import { createBilinearResizeNormalize } from '../../src/kernels/bilinear-resize-normalize.js';
import { createPixelUploader, type PixelSource } from '../../src/kernels/pixel-upload.js';
import { maxPixelError, parseCase, runOnGpu, type BilinearCaseMeta, type BilinearKernels } from '../../test/helpers/bilinear-case.js';

export interface BilinearPageResult {
  hasNavigatorGpu: boolean;
  adapter: AdapterSummary;
  /** Fixtures: max |gpu - torch| in pixel units. Upload paths: max |gpu - reference| in pixel units. */
  cases: Array<{ name: string; maxError: number }>;
  texturesCreated: number;
  /** Error code `upload()` threw for a 0x0 canvas (upload paths only). */
  emptyCanvasError?: string;
  uncapturedErrors: string[];
}

const FIXTURES = '/test/fixtures/bilinear/';

async function setUp(label: string) {
  const { adapterSummary, device } = await acquireDevice(navigator.gpu, { label });
  const uncapturedErrors: string[] = [];
  device.addEventListener('uncapturederror', (event) => uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
  const [resize, crop] = await Promise.all([createBilinearResizeNormalize(device), createBilinearCropResize(device)]);
  const kernels: BilinearKernels = { uploader: createPixelUploader(device), resize, crop };
  const finish = (cases: BilinearPageResult['cases']): BilinearPageResult => {
    const texturesCreated = kernels.uploader.texturesCreated;
    kernels.uploader.dispose();
    resize.dispose();
    crop.dispose();
    device.destroy();
    return { hasNavigatorGpu: Boolean(navigator.gpu), adapter: adapterSummary, cases, texturesCreated, uncapturedErrors };
  };
  return { device, kernels, finish };
}

async function runBilinearFixtures(): Promise<BilinearPageResult> {
  const { device, kernels, finish } = await setUp('e2e-bilinear-fixtures');
  const index = (await (await fetch(`${FIXTURES}cases.json`)).json()) as { cases: BilinearCaseMeta[] };
  const cases: BilinearPageResult['cases'] = [];
  for (const meta of index.cases) {
    const loaded = parseCase(meta, await (await fetch(`${FIXTURES}${meta.name}.bin`)).arrayBuffer());
    cases.push({ name: meta.name, maxError: maxPixelError(await runOnGpu(device, kernels, loaded), loaded) });
  }
  return finish(cases);
}

/** An opaque 61x47 image with gradients and noise (alpha 255 so no premultiplication can bite). */
function testImage(): ImageData {
  const image = new ImageData(61, 47);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4;
      image.data.set([(x * 4 + y) & 255, (y * 5 + ((x * 13) % 7) * 20) & 255, (x * y * 7 + 31) & 255, 255], i);
    }
  }
  return image;
}

/** Max |normalized * std + mean - reference pixel| over a [..., 3, h, w] output. */
function pixelError(got: Float32Array, want: Float64Array, plane: number): number {
  let worst = want.length === got.length ? 0 : Infinity;
  want.forEach((value, i) => {
    const c = Math.floor(i / plane) % 3;
    const std = IMAGENET_STD[c] as number;
    worst = Math.max(worst, Math.abs(((got[i] as number) - value) * std) || (Number.isNaN(got[i]) ? Infinity : 0));
  });
  return worst;
}

async function runBilinearUploadPaths(): Promise<BilinearPageResult> {
  const { device, kernels, finish } = await setUp('e2e-bilinear-upload');
  const image = testImage();
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [image.width, image.height];
  canvas.getContext('2d')?.putImageData(image, 0, 0);
  const offscreen = new OffscreenCanvas(image.width, image.height);
  offscreen.getContext('2d')?.putImageData(image, 0, 0);
  const bitmap = await createImageBitmap(image, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const canvasBitmap = await createImageBitmap(canvas);
  const frame = new VideoFrame(new Uint8Array(image.data), {
    format: 'RGBA',
    codedWidth: image.width,
    codedHeight: image.height,
    timestamp: 0,
  });
  const canvasFrame = new VideoFrame(canvas, { timestamp: 0 });
  const sources: Array<[string, PixelSource]> = [
    ['ImageData', image],
    ['raw Uint8Array', { data: new Uint8Array(image.data), width: image.width, height: image.height }],
    ['ImageBitmap (ImageData)', bitmap],
    ['ImageBitmap (canvas)', canvasBitmap],
    ['HTMLCanvasElement', canvas],
    ['OffscreenCanvas', offscreen],
    ['VideoFrame (RGBA bytes)', frame],
    ['VideoFrame (canvas)', canvasFrame],
  ];
  const rects: CropRect[] = [
    [0, 0, 61, 47],
    [3.5, 2.5, 40.4, 30],
    [60, 46, 61, 47],
  ];
  const [outW, outH, patch] = [23, 17, 32];
  const output = device.createBuffer({
    size: rects.length * 3 * patch * patch * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const cases: BilinearPageResult['cases'] = [];
  for (const [sourceName, source] of sources) {
    for (const mode of BILINEAR_MODES) {
      const options = { mode, mean: IMAGENET_MEAN, std: IMAGENET_STD };
      const [resized, patches] = await withGpuErrorScopes(device, sourceName, async () => {
        const texture = kernels.uploader.upload(source);
        const resize = kernels.resize.prepare({ source: texture, output, outWidth: outW, outHeight: outH, ...options });
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        resize.encode(pass);
        pass.end();
        device.queue.submit([encoder.finish()]);
        const first = await readFloat32(device, output, 3 * outW * outH);
        const crop = kernels.crop.prepare({
          source: texture,
          output,
          maxRects: rects.length,
          outWidth: patch,
          outHeight: patch,
          ...options,
        });
        crop.setRects(rects);
        const encoder2 = device.createCommandEncoder();
        const pass2 = encoder2.beginComputePass();
        crop.encode(pass2);
        pass2.end();
        device.queue.submit([encoder2.finish()]);
        const second = await readFloat32(device, output, rects.length * 3 * patch * patch);
        resize.dispose();
        crop.dispose();
        return [first, second];
      });
      cases.push({
        name: `${sourceName} resize ${mode}`,
        maxError: pixelError(resized, resizeNormalizeReference(image, outW, outH, options), outW * outH),
      });
      cases.push({
        name: `${sourceName} crop ${mode}`,
        maxError: pixelError(patches, cropResizeReference(image, rects, patch, patch, options), patch * patch),
      });
    }
  }
  for (const closable of [frame, canvasFrame, bitmap, canvasBitmap]) closable.close();
  output.destroy();
  const empty = document.createElement('canvas');
  [empty.width, empty.height] = [0, 0];
  let emptyCanvasError = 'none';
  try {
    kernels.uploader.upload(empty);
  } catch (error) {
    emptyCanvasError = error instanceof InputError ? error.code : String(error);
  }
  return { ...finish(cases), emptyCanvasError };
}

declare global {
  interface Window {
    runBilinearFixtures: typeof runBilinearFixtures;
    runBilinearUploadPaths: typeof runBilinearUploadPaths;
  }
}
window.runBilinearFixtures = runBilinearFixtures;
window.runBilinearUploadPaths = runBilinearUploadPaths;
