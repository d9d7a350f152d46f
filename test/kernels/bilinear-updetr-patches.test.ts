/**
 * How far the crop kernel is from UP-DETR's reference query patches (../shared/reference):
 * PIL Image.crop + resize((128, 128), BILINEAR) on uint8, then ImageNet normalization.
 * 'antialias' (torch semantics, float) differs from PIL only by PIL's two uint8 roundings, each at
 * most half a level, and the second pass averages the first's: bounded by 1.5 uint8 levels.
 * 'pil' reproduces Pillow's fixed-point passes: identical bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFloat32 } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { withGpuErrorScopes } from '../../src/gpu/error-scope.js';
import { IMAGENET_STD, type BilinearMode, type CropRect } from '../../src/kernels/bilinear-options.js';
import { createBilinearCropResize, type BilinearCropResizeKernel } from '../../src/kernels/bilinear-crop-resize.js';
import { createPixelUploader, type PixelUploader } from '../../src/kernels/pixel-upload.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';
import { decodePng } from '../../cli/node/png.js';

const shared = process.env.WEBDETR_SHARED ?? fileURLToPath(new URL('../../../shared', import.meta.url));
const reference = join(shared, 'reference');
const LEVEL = 1 / 255;

function readNpyFloat32(path: string): { shape: number[]; data: Float32Array } {
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'descr': '<f4'") || !header.includes("'fortran_order': False")) throw new Error(`unexpected npy header ${header}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .filter((s) => s.trim())
    .map(Number);
  const body = bytes.subarray(10 + headerLength);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
}

let gpu: GpuContext;
let kernel: BilinearCropResizeKernel;
let uploader: PixelUploader;
beforeAll(async () => {
  expect(existsSync(reference), `shared reference data at ${reference} (set WEBDETR_SHARED)`).toBe(true);
  gpu = await createTestGpu();
  kernel = await createBilinearCropResize(gpu.device);
  uploader = createPixelUploader(gpu.device);
});
afterAll(() => {
  kernel.dispose();
  uploader.dispose();
  gpu.device.destroy();
});

async function patches(mode: BilinearMode, rects: CropRect[]): Promise<Float32Array> {
  const image = decodePng(readFileSync(join(reference, 'image.png')));
  const count = rects.length * 3 * 128 * 128;
  const output = gpu.device.createBuffer({
    label: 'updetr-patches',
    size: count * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  try {
    return await withGpuErrorScopes(gpu.device, 'updetr-patches', async () => {
      const call = kernel.prepare({ source: uploader.upload(image), output, maxRects: rects.length, mode });
      call.setRects(rects);
      const encoder = gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      call.encode(pass);
      pass.end();
      gpu.device.queue.submit([encoder.finish()]);
      const result = await readFloat32(gpu.device, output, count);
      call.dispose();
      return result;
    });
  } finally {
    output.destroy();
  }
}

/** Max and mean |a - b| in normalized units, and the max in uint8 levels (x std x 255). */
function compare(got: Float32Array, want: Float32Array) {
  let max = 0;
  let sum = 0;
  let maxLevels = 0;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs((got[i] as number) - (want[i] as number));
    max = Math.max(max, diff);
    sum += diff;
    maxLevels = Math.max(maxLevels, (diff * (IMAGENET_STD[Math.floor(i / 16384) % 3] as number)) / LEVEL);
  }
  return { max, mean: sum / want.length, maxLevels };
}

describe('crop kernel vs the UP-DETR reference patches (PIL crop + bilinear resize to 128)', () => {
  const { patch_boxes_xyxy: rects } = JSON.parse(readFileSync(join(reference, 'updetr_pretrain', 'patches.json'), 'utf8')) as {
    patch_boxes_xyxy: CropRect[];
  };
  const want = () => {
    const npy = readNpyFloat32(join(reference, 'updetr_pretrain', 'patches.npy'));
    expect(npy.shape).toEqual([1, rects.length, 3, 128, 128]);
    return npy.data;
  };

  it('decodes the reference image exactly (checksum from PIL)', () => {
    const image = decodePng(readFileSync(join(reference, 'image.png')));
    expect([image.width, image.height]).toEqual([512, 384]);
    let sum = 0;
    for (let i = 0; i < image.data.length; i++) if (i % 4 !== 3) sum += image.data[i] as number;
    expect(sum).toBe(67637300);
    expect(Array.from(image.data.subarray(0, 3))).toEqual([161, 154, 157]);
  });

  it("'antialias' (torch) is within 1.5 uint8 levels of PIL", async () => {
    const stats = compare(await patches('antialias', rects), want());
    console.log('antialias vs PIL patches:', stats);
    expect(stats.maxLevels).toBeLessThanOrEqual(1.5);
    expect(stats.max).toBeLessThanOrEqual((1.5 * LEVEL) / Math.min(...IMAGENET_STD));
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it("'pil' reproduces the PIL patches (same uint8 values; float32 rounding only)", async () => {
    const stats = compare(await patches('pil', rects), want());
    console.log('pil vs PIL patches:', stats);
    expect(stats.max).toBeLessThanOrEqual(1e-5);
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it("plain 'bilinear' (no antialias) is measurably further from PIL when downscaling", async () => {
    const stats = compare(await patches('bilinear', rects), want());
    console.log('bilinear vs PIL patches:', stats);
    expect(stats.maxLevels).toBeGreaterThan(1.5);
    expect(takeUncapturedErrors()).toEqual([]);
  });
});
