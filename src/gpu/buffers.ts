/** Buffer helpers: size alignment and read-back to the CPU. */

/** WebGPU requires copy sizes and offsets in multiples of 4; we round allocations to 16. */
export function alignTo(bytes: number, alignment = 16): number {
  return Math.ceil(bytes / alignment) * alignment;
}

/** Copies `byteLength` bytes of `source` (needs COPY_SRC) to the CPU. */
export async function readBuffer(device: GPUDevice, source: GPUBuffer, byteLength = source.size, sourceOffset = 0): Promise<ArrayBuffer> {
  const size = alignTo(byteLength, 4);
  const staging = device.createBuffer({
    label: `${source.label || 'buffer'}:readback`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label: 'readBuffer' });
    encoder.copyBufferToBuffer(source, sourceOffset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0, byteLength);
  } finally {
    staging.destroy();
  }
}

export async function readFloat32(device: GPUDevice, source: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, source, count * 4));
}
