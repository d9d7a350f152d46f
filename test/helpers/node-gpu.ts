/**
 * WebGPU in Node for unit tests: Dawn from the `webgpu` package running on SwiftShader (the Vulkan
 * ICD from Debian chromium; vite.config.ts sets VK_ICD_FILENAMES). Every test device fails loudly
 * on uncaptured errors so nothing passes while the GPU silently rejected work.
 */
import { create, globals } from 'webgpu';
import { alignTo } from '../../src/gpu/buffers.js';
import { acquireDevice, type GpuContext } from '../../src/gpu/device.js';

Object.assign(globalThis, globals);

let gpu: GPU | undefined;
const uncaptured: string[] = [];

export async function createTestGpu(): Promise<GpuContext> {
  gpu ??= create([]) as GPU;
  const context = await acquireDevice(gpu, { label: 'webdetr-test' });
  context.device.addEventListener('uncapturederror', (event) => {
    uncaptured.push((event as GPUUncapturedErrorEvent).error.message);
  });
  return context;
}

/** Throws if any device created here reported an uncaptured error since the last call. */
export function takeUncapturedErrors(): string[] {
  return uncaptured.splice(0, uncaptured.length);
}

/** A buffer holding `data` from creation (mapped at creation: no queue write to wait for). */
export function createBufferWithData(device: GPUDevice, data: ArrayBufferView, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
  const buffer = device.createBuffer({ label, size: alignTo(Math.max(data.byteLength, 4)), usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}
