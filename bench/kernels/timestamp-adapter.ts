/**
 * The adapter both bench pages hand to onnxruntime-web. ORT 1.30 (JSEP) requests
 * 'chromium-experimental-timestamp-query-inside-passes' *instead of* 'timestamp-query' when the
 * adapter has both; our pass timers need the standard feature on the device ORT creates (which we
 * share), so this adapter adds it to whatever ORT asks for.
 */
export async function adapterWithTimestamps(): Promise<GPUAdapter> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
  const requestDevice = adapter.requestDevice.bind(adapter);
  adapter.requestDevice = (descriptor?: GPUDeviceDescriptor) => {
    const features = new Set<GPUFeatureName>(descriptor?.requiredFeatures ?? []);
    if (adapter.features.has('timestamp-query')) features.add('timestamp-query');
    return requestDevice({ ...descriptor, requiredFeatures: [...features] });
  };
  return adapter;
}
