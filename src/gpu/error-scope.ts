import { GpuError } from '../errors.js';

/**
 * Runs `work` inside validation, out-of-memory and internal error scopes and turns any captured
 * error into a typed GpuError. Scopes are popped even when `work` throws, so the device's scope
 * stack never leaks.
 */
export async function withGpuErrorScopes<T>(device: GPUDevice, label: string, work: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let thrown: unknown;
  let didThrow = false;
  try {
    result = await work();
  } catch (error) {
    thrown = error;
    didThrow = true;
  }
  const validation = await device.popErrorScope();
  const outOfMemory = await device.popErrorScope();
  const internal = await device.popErrorScope();
  if (outOfMemory) throw new GpuError('gpu-out-of-memory', `${label}: GPU out of memory: ${outOfMemory.message}`);
  if (validation) throw new GpuError('gpu-validation', `${label}: WebGPU validation error: ${validation.message}`);
  if (internal) throw new GpuError('gpu-internal', `${label}: WebGPU internal error: ${internal.message}`);
  if (didThrow) throw thrown;
  return result as T;
}
