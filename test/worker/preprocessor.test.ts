/**
 * The GPU Preprocessor (WGSL kernels) gives the CPU one's tensors (the TypeScript reference), and owns
 * which image its texture holds: zoomed search's window crops, crop-kind patches of the image last
 * resized and of another image (uploaded on demand), again after reset(); box-kind patches need no
 * pixels and stay host tensors. 'pil' mode reproduces Pillow's fixed-point passes, so the only
 * difference left is float32 rounding of the normalization.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFloat32 } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import type { RelativeRect } from '../../src/geometry/zoom-windows.js';
import type { CropRect } from '../../src/kernels/bilinear-options.js';
import { parseManifest, type Manifest } from '../../src/package/manifest.js';
import type { GpuTensorRef, HostTensor, RunnerInput } from '../../src/runtime/runner.js';
import type { StoredImage } from '../../src/worker/image-store.js';
import { createCpuPreprocessor } from '../../src/worker/preprocess-cpu.js';
import { createGpuPreprocessor } from '../../src/worker/preprocess-gpu.js';
import { maxAbsDiff } from '../export/npy.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';

const TOLERANCE = 1e-4;

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createTestGpu();
});
afterAll(() => {
  gpu.device.destroy();
});

const readManifest = (path: string): Manifest => parseManifest(JSON.parse(readFileSync(path, 'utf8')));

/** A test card: gradients and a checkerboard (shifted by `seed`), so a misplaced crop or a stale image shows. */
function testImage(id: number, width: number, height: number, seed = 0): StoredImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      data.set([(x * 255) / width, (y * 255) / height, ((x >> 3) + (y >> 3) + seed) % 2 ? 220 : 30, 255], i);
    }
  }
  return { prepared: { kind: 'prepared-image', id, width, height }, pixels: { data, width, height } };
}

const onGpu = (tensor: RunnerInput): GpuTensorRef => {
  if (!('buffer' in tensor)) throw new Error('the GPU preprocessor gave a host tensor');
  return tensor;
};
const onHost = (tensor: RunnerInput): HostTensor => {
  if ('buffer' in tensor) throw new Error('the CPU preprocessor gave a GPU tensor');
  return tensor;
};

/** Max |GPU - CPU| of one tensor pair. */
async function difference(gpuTensor: RunnerInput, cpuTensor: RunnerInput): Promise<number> {
  const expected = onHost(cpuTensor);
  const actual = onGpu(gpuTensor);
  expect(actual.dims).toEqual(expected.dims);
  return maxAbsDiff(await readFloat32(gpu.device, actual.buffer, expected.data.length), expected.data);
}

describe('the GPU Preprocessor equals the CPU one', () => {
  it('box-kind package: windows (fractional edges, image edges), whole images again after them; box patches as host tensors', async () => {
    const manifest = readManifest('public/models/oneshot/manifest.json');
    const preprocess = await createGpuPreprocessor(gpu.device, manifest);
    const reference = createCpuPreprocessor(manifest);
    try {
      const image = testImage(1, 333, 251);
      await preprocess.image(image);
      // Windows of 0.6 of the 333x251 picture: fractional pixel edges (199.8, 150.6), and the image's edges.
      const windows: RelativeRect[] = [
        [0, 0, 0.6, 0.6],
        [0.4, 0.4, 1, 1],
        [0.2, 0, 0.8, 0.6],
      ];
      for (const window of windows) {
        const diff = await difference(await preprocess.window(image, window), await reference.window(image, window));
        expect(diff, `window ${window.join(', ')}`).toBeLessThanOrEqual(TOLERANCE);
      }
      expect(await difference(await preprocess.image(image), await reference.image(image))).toBeLessThanOrEqual(TOLERANCE);
      const rects: CropRect[] = [
        [10, 20, 60, 90],
        [0, 0, 333, 251],
      ];
      const boxes = onHost(await preprocess.patches(image, rects));
      expect(boxes).toEqual(onHost(await reference.patches(image, rects)));
      expect(boxes.dims).toEqual([1, 2, 4]);
      expect(takeUncapturedErrors()).toEqual([]);
    } finally {
      preprocess.dispose();
    }
  });

  it('crop-kind package: patches of the image just resized, of another image (uploaded for them), and after reset()', async () => {
    const manifest = readManifest('test/fixtures/manifests/valid/updetr-two-pipelines.json');
    const preprocess = await createGpuPreprocessor(gpu.device, manifest);
    const reference = createCpuPreprocessor(manifest);
    try {
      const first = testImage(1, 333, 251);
      const second = testImage(2, 200, 150, 1);
      const rects: CropRect[] = [
        [10.5, 20, 60, 90.25],
        [100, 50, 180, 140],
      ];
      expect(await difference(await preprocess.image(first), await reference.image(first))).toBeLessThanOrEqual(TOLERANCE);
      expect(await difference(await preprocess.patches(first, rects), await reference.patches(first, rects))).toBeLessThanOrEqual(
        TOLERANCE,
      );
      // A re-query of another prepared image whose encoding is reused: its pixels were never resized here.
      expect(await difference(await preprocess.patches(second, rects), await reference.patches(second, rects))).toBeLessThanOrEqual(
        TOLERANCE,
      );
      expect(await difference(await preprocess.patches(first, rects), await reference.patches(first, rects))).toBeLessThanOrEqual(
        TOLERANCE,
      );
      preprocess.reset();
      expect(await difference(await preprocess.patches(first, rects), await reference.patches(first, rects))).toBeLessThanOrEqual(
        TOLERANCE,
      );
      expect(takeUncapturedErrors()).toEqual([]);
    } finally {
      preprocess.dispose();
    }
  });
});
