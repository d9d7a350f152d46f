import { WebGpuUnavailableError } from '../errors.js';

/** What we know about the adapter behind a device; shown to users ("which backend ran"). */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters such as SwiftShader (CPU emulation of a GPU). */
  isFallbackAdapter: boolean;
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  adapterSummary: AdapterSummary;
  /** Whether the device was created with 'timestamp-query' (per-pass GPU timings). */
  hasTimestampQuery: boolean;
}

export interface AcquireDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for timestamp-query when the adapter has it (default true). */
  timestamps?: boolean;
  label?: string;
}

/**
 * Requests an adapter and a device from `gpu` (navigator.gpu in a page or worker, the `webgpu`
 * package's GPU in Node). Storage-buffer limits are raised to the adapter's maxima because
 * full-size feature maps exceed the spec defaults.
 */
export async function acquireDevice(gpu: GPU | undefined, options: AcquireDeviceOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new WebGpuUnavailableError('WebGPU is not available here (navigator.gpu is undefined).');
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
  if (!adapter) throw new WebGpuUnavailableError('navigator.gpu.requestAdapter() returned null.');

  const wantTimestamps = options.timestamps ?? true;
  const requiredFeatures: GPUFeatureName[] = [];
  if (wantTimestamps && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');

  const l = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: options.label ?? 'webdetr',
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      },
    });
  } catch (cause) {
    throw new WebGpuUnavailableError(`adapter.requestDevice() failed: ${String(cause)}`, { cause });
  }
  return {
    adapter,
    device,
    adapterSummary: summarizeAdapter(adapter),
    hasTimestampQuery: requiredFeatures.includes('timestamp-query'),
  };
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // `isFallbackAdapter` moved from the adapter to adapter.info in newer implementations.
  const legacyFlag = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const description = info.description ?? '';
  const looksLikeSwiftShader = /swiftshader/i.test(`${info.vendor} ${info.architecture} ${description}`);
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFlag) || looksLikeSwiftShader,
  };
}
