import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuError } from '../src/errors.js';
import { readFloat32 } from '../src/gpu/buffers.js';
import type { GpuContext } from '../src/gpu/device.js';
import { withGpuErrorScopes } from '../src/gpu/error-scope.js';
import { createBufferWithData, createTestGpu, takeUncapturedErrors } from './helpers/node-gpu.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createTestGpu();
});
afterAll(() => {
  gpu.device.destroy();
  expect(takeUncapturedErrors()).toEqual([]);
});

describe('gpu basics (Dawn on SwiftShader)', () => {
  it('runs on a WebGPU adapter and reports it as a fallback (CPU) adapter', () => {
    expect(gpu.adapterSummary.isFallbackAdapter).toBe(true);
  });

  it('round-trips a buffer', async () => {
    const data = new Float32Array([1, -2, 3.5, 1e-7, 7]);
    const buffer = createBufferWithData(gpu.device, data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'rt');
    expect(Array.from(await readFloat32(gpu.device, buffer, 5))).toEqual(Array.from(data));
    buffer.destroy();
  });

  it('turns a validation error into a typed GpuError', async () => {
    const attempt = withGpuErrorScopes(gpu.device, 'bad-buffer', () => {
      // MAP_READ may only be combined with COPY_DST: a validation error.
      gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    });
    await expect(attempt).rejects.toBeInstanceOf(GpuError);
    await expect(attempt).rejects.toMatchObject({ code: 'gpu-validation' });
  });
});
