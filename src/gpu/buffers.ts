/** Buffer helpers: upload, read back, and a size-bucketed pool with byte accounting. */

/** WebGPU requires copy sizes and offsets in multiples of 4; we round allocations to 16. */
export function alignTo(bytes: number, alignment = 16): number {
  return Math.ceil(bytes / alignment) * alignment;
}

export function createBufferWithData(
  device: GPUDevice,
  data: ArrayBufferView,
  usage: GPUBufferUsageFlags,
  label: string,
): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: alignTo(Math.max(data.byteLength, 4)),
    usage,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** Copies `byteLength` bytes of `source` (needs COPY_SRC) to the CPU. */
export async function readBuffer(
  device: GPUDevice,
  source: GPUBuffer,
  byteLength = source.size,
  sourceOffset = 0,
): Promise<ArrayBuffer> {
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

export interface BufferPoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  /** Buffers kept for reuse. */
  pooledBuffers: number;
  /** Bytes of every buffer the pool owns (live + pooled). */
  bytesAllocated: number;
}

/**
 * Reuses storage buffers across frames (onnxruntime-web gpu-data-manager style). Sizes are rounded
 * up to a bucket (16-byte multiples below 4 KiB, then quarter-powers of two) so a slightly different
 * frame size reuses the same buffer. Release a buffer only after the commands using it were
 * submitted: queue ordering then keeps later writers behind earlier readers.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private bytes = 0;
  private disposed = false;

  constructor(private readonly device: GPUDevice, private readonly label = 'pool') {}

  static bucketSize(bytes: number): number {
    const aligned = alignTo(Math.max(bytes, 16));
    if (aligned <= 4096) return aligned;
    const exponent = Math.floor(Math.log2(aligned));
    const step = 2 ** (exponent - 2);
    return alignTo(Math.ceil(aligned / step) * step);
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    if (this.disposed) throw new Error(`BufferPool(${this.label}) used after dispose()`);
    const size = BufferPool.bucketSize(bytes);
    const key = `${size}:${usage}`;
    const reused = this.free.get(key)?.pop();
    if (reused) {
      this.live.add(reused);
      return reused;
    }
    const buffer = this.device.createBuffer({ label: label ?? `${this.label}:${size}`, size, usage });
    this.bytes += size;
    this.live.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`BufferPool(${this.label}): releasing a buffer it does not own`);
    if (this.disposed) {
      buffer.destroy();
      return;
    }
    const key = `${buffer.size}:${buffer.usage}`;
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    list.push(buffer);
  }

  stats(): BufferPoolStats {
    let pooled = 0;
    for (const list of this.free.values()) pooled += list.length;
    return { liveBuffers: this.live.size, pooledBuffers: pooled, bytesAllocated: this.bytes };
  }

  /** Destroys every pooled and live buffer. */
  dispose(): void {
    this.disposed = true;
    for (const list of this.free.values()) for (const buffer of list) buffer.destroy();
    for (const buffer of this.live) buffer.destroy();
    this.free.clear();
    this.live.clear();
    this.bytes = 0;
  }
}
