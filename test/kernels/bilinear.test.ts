import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readFloat32 } from '../../src/gpu/buffers.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { MAX_ANTIALIAS_DOWNSCALE, roundHalfToEven } from '../../src/kernels/bilinear-options.js';
import { createBilinearCropResize } from '../../src/kernels/bilinear-crop-resize.js';
import { resizeNormalizeReference } from '../../src/kernels/bilinear-reference.js';
import { createBilinearResizeNormalize } from '../../src/kernels/bilinear-resize-normalize.js';
import { createPixelUploader } from '../../src/kernels/pixel-upload.js';
import {
  maxPixelError,
  parseCase,
  PIXEL_TOLERANCE,
  referenceFor,
  runOnGpu,
  type BilinearCaseMeta,
  type BilinearKernels,
} from '../helpers/bilinear-case.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';

const dir = new URL('../fixtures/bilinear/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: BilinearCaseMeta[] };
const load = (meta: BilinearCaseMeta) => {
  const bytes = readFileSync(new URL(`${meta.name}.bin`, dir));
  return parseCase(meta, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

let gpu: GpuContext;
let kernels: BilinearKernels;
/** Worst GPU error per family (op + mode), printed at the end for the record. */
const worstByFamily = new Map<string, number>();

beforeAll(async () => {
  gpu = await createTestGpu();
  const [resize, crop] = await Promise.all([createBilinearResizeNormalize(gpu.device), createBilinearCropResize(gpu.device)]);
  kernels = { uploader: createPixelUploader(gpu.device), resize, crop };
});
afterAll(() => {
  console.log('bilinear max |gpu - torch| (pixel units):', Object.fromEntries(worstByFamily));
  kernels.resize.dispose();
  kernels.crop.dispose();
  kernels.uploader.dispose();
  gpu.device.destroy();
});

describe('bilinear fixtures', () => {
  it('cover resize and crop in every mode (>= 20 cases) and run on a WebGPU adapter', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    for (const op of ['resize', 'crop'])
      for (const mode of ['bilinear', 'antialias', 'pil']) expect(cases.some((c) => c.op === op && c.mode === mode)).toBe(true);
    expect(gpu.adapterSummary.isFallbackAdapter).toBe(true); // Dawn on SwiftShader actually ran
  });
});

describe.each(cases.map((c) => [c.name, c] as const))('bilinear %s', (_name, meta) => {
  it(`WGSL matches torch within ${PIXEL_TOLERANCE} (pixel units)`, async () => {
    const c = load(meta);
    const output = await runOnGpu(gpu.device, kernels, c);
    const error = maxPixelError(output, c);
    const family = `${meta.op}/${meta.mode}`;
    worstByFamily.set(family, Math.max(worstByFamily.get(family) ?? 0, error));
    expect(error).toBeLessThanOrEqual(PIXEL_TOLERANCE);
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it('float64 TypeScript reference matches torch within 1e-6', () => {
    const c = load(meta);
    expect(maxPixelError(referenceFor(c), c)).toBeLessThanOrEqual(1e-6);
  });
});

describe('bilinear validation', () => {
  const raw = (width: number, height: number) => ({ data: new Uint8Array(width * height * 4).fill(255), width, height });
  const storage = (floats: number) =>
    gpu.device.createBuffer({ size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });

  it('rounds like Python round() (ties to even)', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfToEven)).toEqual([0, 2, 2, 0, -2, 2, 3]);
  });

  it('throws InputError before GPU work for bad images, shapes and rectangles', async () => {
    const uploader = createPixelUploader(gpu.device);
    const output = storage(3 * 128 * 128 * 2);
    gpu.device.pushErrorScope('validation');
    expect(() => uploader.upload(raw(0, 0))).toThrow(InputError);
    expect(() => uploader.upload({ data: new Uint8Array(0), width: 0, height: 5 })).toThrow(InputError);
    const tooWide = gpu.device.limits.maxTextureDimension2D + 1;
    expect(() => uploader.upload({ data: new Uint8Array(4), width: tooWide, height: 1 })).toThrow(/maxTextureDimension2D/);
    expect(() => uploader.upload({ data: new Uint8Array(7), width: 2, height: 1 })).toThrow(/RGBA bytes/);
    expect(uploader.texturesCreated).toBe(0);

    const source = uploader.upload(raw(200, 100));
    const base = { source, output, outWidth: 16, outHeight: 8 };
    expect(() => kernels.resize.prepare({ ...base, outWidth: 0 })).toThrow(InputError);
    expect(() => kernels.resize.prepare({ ...base, outHeight: 2.5 })).toThrow(InputError);
    expect(() => kernels.resize.prepare({ ...base, std: [1, 0, 1] })).toThrow(/std/);
    expect(() => kernels.resize.prepare({ ...base, mean: [0, 0] as unknown as [number, number, number] })).toThrow(/mean/);
    expect(() => kernels.resize.prepare({ ...base, outWidth: 128, outHeight: 128, output: storage(100) })).toThrow(/output buffer holds/);
    // 200 / 3 > 64: antialias refuses, plain bilinear (4 taps) accepts.
    expect(() => kernels.resize.prepare({ ...base, outWidth: 3, mode: 'antialias' })).toThrow(
      new RegExp(`exceeds ${MAX_ANTIALIAS_DOWNSCALE}`),
    );
    kernels.resize.prepare({ ...base, outWidth: 3, mode: 'bilinear' }).dispose();

    const crop = kernels.crop.prepare({ source, output, maxRects: 2, mode: 'antialias' });
    expect(() => crop.encode({} as GPUComputePassEncoder)).toThrow(/before setRects/);
    expect(() => crop.setRects([[10, 10, 10, 20]])).toThrow(/zero area/);
    expect(() => crop.setRects([[10.6, 10, 11.4, 20]])).toThrow(/zero area/); // both x round to 11
    expect(() => crop.setRects([[-1, 0, 10, 10]])).toThrow(/leaves/);
    expect(() => crop.setRects([[190, 90, 201, 100]])).toThrow(/leaves/);
    expect(() => crop.setRects([[0, 0, Number.NaN, 10]])).toThrow(/finite/);
    expect(() => crop.setRects([])).toThrow(InputError);
    expect(() =>
      crop.setRects([
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 0, 1, 1],
      ]),
    ).toThrow(/1\.\.2 rectangles/);
    expect(() =>
      crop.setRects([
        [0, 0, 10, 10],
        [5, 5, 5, 9],
      ]),
    ).toThrow(InputError);
    expect(crop.rectCount).toBe(0); // a rejected batch writes nothing
    expect(() => kernels.crop.prepare({ source, output, maxRects: 0 })).toThrow(/maxRects/);
    expect(() => kernels.crop.prepare({ source, output, maxRects: 3 })).toThrow(/output buffer holds/);
    crop.dispose();
    expect(await gpu.device.popErrorScope()).toBeNull();

    const other = gpu.device.createTexture({ size: [4, 4], format: 'rgba8unorm', usage: GPUTextureUsage.COPY_DST });
    expect(() => kernels.resize.prepare({ ...base, source: other })).toThrow(/TEXTURE_BINDING/);
    other.destroy();
    uploader.dispose();
    output.destroy();
    expect(takeUncapturedErrors()).toEqual([]);
  });
});

describe('bilinear limits', () => {
  it(`accepts a ${MAX_ANTIALIAS_DOWNSCALE}x antialias / pil downscale exactly and refuses ${MAX_ANTIALIAS_DOWNSCALE + 1}x`, async () => {
    const width = 2 * MAX_ANTIALIAS_DOWNSCALE;
    const data = new Uint8Array(width * 3 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 89 + 7) % 256;
    const image = { data, width, height: 3 };
    for (const mode of ['antialias', 'pil'] as const) {
      const c = {
        meta: {
          name: `limit-${mode}`,
          op: 'resize',
          mode,
          seed: 0,
          inWidth: width,
          inHeight: 3,
          outWidth: 2,
          outHeight: 1,
          mean: [0, 0, 0],
          std: [1, 1, 1],
        } as BilinearCaseMeta,
        image,
        expected: new Float32Array(6),
      };
      c.expected.set(resizeNormalizeReference(image, 2, 1, { mode, mean: [0, 0, 0], std: [1, 1, 1] }));
      expect(maxPixelError(await runOnGpu(gpu.device, kernels, c), c)).toBeLessThanOrEqual(PIXEL_TOLERANCE);
      const tooWide = { data: new Uint8Array((MAX_ANTIALIAS_DOWNSCALE + 1) * 4), width: MAX_ANTIALIAS_DOWNSCALE + 1, height: 1 };
      expect(() => resizeNormalizeReference(tooWide, 1, 1, { mode })).toThrow(/exceeds/);
      const source = kernels.uploader.upload(tooWide);
      const output = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
      expect(() => kernels.resize.prepare({ source, output, outWidth: 1, outHeight: 1, mode })).toThrow(InputError);
      output.destroy();
    }
    expect(takeUncapturedErrors()).toEqual([]);
  });
});

describe('bilinear reuse across frames', () => {
  it('reuses the texture, bind groups and buffers: no GPU objects created per frame', async () => {
    const device = gpu.device;
    const uploader = createPixelUploader(device);
    const frame = (seed: number) => {
      const data = new Uint8Array(37 * 23 * 4);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97) & 255;
      return { data, width: 37, height: 23 };
    };
    const first = frame(0);
    const source = uploader.upload(first);
    const output = storage(3 * 12 * 9);
    const patches = storage(2 * 3 * 8 * 8);
    const resize = kernels.resize.prepare({ source, output, outWidth: 12, outHeight: 9, mode: 'antialias' });
    const crop = kernels.crop.prepare({ source, output: patches, maxRects: 2, outWidth: 8, outHeight: 8 });
    const created = { buffers: 0, bindGroups: 0, textures: 0 };
    const originals = {
      createBuffer: device.createBuffer.bind(device),
      createBindGroup: device.createBindGroup.bind(device),
      createTexture: device.createTexture.bind(device),
    };
    device.createBuffer = (d) => (created.buffers++, originals.createBuffer(d));
    device.createBindGroup = (d) => (created.bindGroups++, originals.createBindGroup(d));
    device.createTexture = (d) => (created.textures++, originals.createTexture(d));
    let last = first;
    try {
      for (let f = 0; f < 10; f++) {
        last = frame(f);
        expect(uploader.upload(last)).toBe(source);
        crop.setRects([
          [f, 0, 37, 23 - f],
          [3, 4, 5 + f, 9],
        ]);
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        resize.encode(pass);
        crop.encode(pass);
        pass.end();
        device.queue.submit([encoder.finish()]);
      }
      await device.queue.onSubmittedWorkDone();
    } finally {
      Object.assign(device, originals);
    }
    expect(created).toEqual({ buffers: 0, bindGroups: 0, textures: 0 });
    // The last frame's pixels were used.
    const got = await readFloat32(device, output, 3 * 12 * 9);
    const want = resizeNormalizeReference(last, 12, 9, { mode: 'antialias' });
    expect(Math.max(...want.map((v, i) => Math.abs(v - (got[i] ?? Infinity))))).toBeLessThan(5e-4);
    // A different size makes a new texture.
    uploader.upload({ data: new Uint8Array(4 * 5 * 4), width: 4, height: 5 });
    expect(uploader.texturesCreated).toBe(2);
    resize.dispose();
    crop.dispose();
    uploader.dispose();
    output.destroy();
    patches.destroy();
    expect(takeUncapturedErrors()).toEqual([]);
  });

  function storage(floats: number): GPUBuffer {
    return gpu.device.createBuffer({ size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  }
});
