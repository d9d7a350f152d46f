/**
 * Zoomed search's window crops on WebGPU (GpuPreprocessor.window: the crop kernel into the image
 * tensor) equal the WASM path's TypeScript reference (windowTensorCpu), and plain image preprocessing
 * still works after them. 'pil' mode reproduces Pillow's fixed-point passes, so the only difference
 * left is float32 rounding of the normalization.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFloat32 } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { parseManifest, type Manifest } from '../../src/package/manifest.js';
import { createGpuPreprocessor, type GpuPreprocessor } from '../../src/worker/preprocess-gpu.js';
import { imageTensorCpu, windowTensorCpu } from '../../src/worker/preprocess-cpu.js';
import { maxAbsDiff } from '../export/npy.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';

const TOLERANCE = 1e-4;

let gpu: GpuContext;
let manifest: Manifest;
let preprocess: GpuPreprocessor;
beforeAll(async () => {
  gpu = await createTestGpu();
  manifest = parseManifest(JSON.parse(readFileSync('public/models/oneshot/manifest.json', 'utf8')));
  preprocess = await createGpuPreprocessor(gpu.device, manifest);
});
afterAll(() => {
  preprocess.dispose();
  gpu.device.destroy();
});

/** A 333x251 test card: gradients and a checkerboard, so a misplaced crop shows. */
function testImage() {
  const width = 333;
  const height = 251;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      data.set([(x * 255) / width, (y * 255) / height, ((x >> 3) + (y >> 3)) % 2 ? 220 : 30, 255], i);
    }
  }
  return { data, width, height };
}

describe('GpuPreprocessor.window', () => {
  it('crops windows (fractional edges, image edges) like the CPU reference, then preprocesses whole images again', async () => {
    const pixels = testImage();
    const { width, height } = manifest.input.sizePolicy;
    const count = 3 * width * height;
    preprocess.image(pixels);
    for (const rect of [[0, 0, 199.8, 150.6], [133.2, 100.4, 333, 251], [66.6, 0, 266.4, 150.6]] as const) {
      const tensor = preprocess.window(rect);
      expect(tensor.dims).toEqual([1, 3, height, width]);
      const diff = maxAbsDiff(await readFloat32(gpu.device, tensor.buffer, count), windowTensorCpu(pixels, rect, manifest).data);
      expect(diff, `window ${rect.join(', ')}`).toBeLessThanOrEqual(TOLERANCE);
    }
    const whole = preprocess.image(pixels);
    expect(maxAbsDiff(await readFloat32(gpu.device, whole.buffer, count), imageTensorCpu(pixels, manifest).data)).toBeLessThanOrEqual(TOLERANCE);
    expect(takeUncapturedErrors()).toEqual([]);
  });
});
