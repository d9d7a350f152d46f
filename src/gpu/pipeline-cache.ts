/**
 * Compute pipelines cached per device (greggman/webgpu-utils style): a WeakMap keyed by the device,
 * so a lost or destroyed device takes its pipelines with it. Values are promises so concurrent
 * callers share one `createComputePipelineAsync`.
 */
const pipelinesByDevice = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
const modulesByDevice = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

export function getShaderModule(device: GPUDevice, label: string, code: string): GPUShaderModule {
  let modules = modulesByDevice.get(device);
  if (!modules) {
    modules = new Map();
    modulesByDevice.set(device, modules);
  }
  const key = `${label}\u0000${code}`;
  let module = modules.get(key);
  if (!module) {
    module = device.createShaderModule({ label, code });
    modules.set(key, module);
  }
  return module;
}

/**
 * Returns the pipeline for `key`, creating it with `describe()` on first use. `key` must capture
 * everything that changes the pipeline (entry point, override constants, layout).
 */
export function getComputePipeline(
  device: GPUDevice,
  key: string,
  describe: () => GPUComputePipelineDescriptor,
): Promise<GPUComputePipeline> {
  let pipelines = pipelinesByDevice.get(device);
  if (!pipelines) {
    pipelines = new Map();
    pipelinesByDevice.set(device, pipelines);
  }
  let pipeline = pipelines.get(key);
  if (!pipeline) {
    pipeline = device.createComputePipelineAsync(describe());
    // A failed compile must not poison the cache for later attempts.
    pipeline.catch(() => pipelines?.delete(key));
    pipelines.set(key, pipeline);
  }
  return pipeline;
}
