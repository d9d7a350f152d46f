/**
 * The GPU tensors of one package runner, by manifest tensor name. Buffers the store owns are created
 * for a name once and only grow (a smaller tensor reuses the larger buffer), so ORT sessions and
 * prepared kernel calls see the same GPUBuffer frame after frame; caller buffers (GpuTensorRef) are
 * only referenced, never destroyed. Read-back staging buffers are kept the same way.
 */
import { alignTo } from '../gpu/buffers.js';
import { InputError } from '../errors.js';
import type { GpuTensorRef, HostTensor } from './runner.js';

export interface GpuTensor {
  buffer: GPUBuffer;
  dims: readonly number[];
}

export interface GpuTensorStore {
  /** The tensor bound to `name`; InputError when nothing produced it yet. */
  get(name: string): GpuTensor;
  has(name: string): boolean;
  /** Binds a caller's buffer (not owned: never destroyed by the store). */
  bindExternal(name: string, tensor: GpuTensorRef): void;
  /** Copies a host tensor into the name's owned buffer. */
  upload(name: string, tensor: HostTensor): void;
  /**
   * The name's owned buffer, (re)allocated only when `dims` need more bytes than it has; with
   * `exactSize` also when they need fewer (ORT output buffers: see gpu-stages.ts).
   */
  reserve(name: string, dims: readonly number[], exactSize?: boolean): GpuTensor;
  /** Binds a buffer someone else manages (an ORT-allocated output); `release` runs when it is replaced. */
  bindManaged(name: string, tensor: GpuTensor, release: () => void): void;
  /** Copies the named tensors to the CPU with one submit. */
  read(names: readonly string[]): Promise<Record<string, HostTensor>>;
  stats(): { ownedBuffers: number; ownedBytes: number };
  /**
   * Destroys every owned and staging buffer and forgets every binding; the store stays usable. After a
   * GPU error (out of memory) a cached buffer may be invalid, and reusing it would fail every later run.
   */
  reset(): void;
  dispose(): void;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}

interface Slot extends GpuTensor {
  /** How the buffer is held: destroyed by us, someone else's, or released through a callback. */
  holder: 'owned' | 'external' | 'managed';
  release?: () => void;
}

export function createGpuTensorStore(device: GPUDevice, label: string): GpuTensorStore {
  const slots = new Map<string, Slot>();
  /** Owned buffers stay here even while an external buffer is bound to the name, for reuse. */
  const owned = new Map<string, GPUBuffer>();
  const staging = new Map<string, GPUBuffer>();

  function unbind(name: string): void {
    const slot = slots.get(name);
    if (slot?.holder === 'managed') slot.release?.();
    slots.delete(name);
  }

  function ownedBuffer(name: string, bytes: number, exactSize = false): GPUBuffer {
    const size = alignTo(Math.max(bytes, 16));
    let buffer = owned.get(name);
    if (buffer === undefined || buffer.size < size || (exactSize && buffer.size !== size)) {
      buffer?.destroy();
      buffer = device.createBuffer({
        label: `${label}:${name}`,
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      owned.set(name, buffer);
    }
    return buffer;
  }

  function stagingBuffer(name: string, bytes: number): GPUBuffer {
    let buffer = staging.get(name);
    if (buffer === undefined || buffer.size < bytes) {
      buffer?.destroy();
      buffer = device.createBuffer({
        label: `${label}:${name}:readback`,
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      staging.set(name, buffer);
    }
    return buffer;
  }

  const store: GpuTensorStore = {
    get(name) {
      const slot = slots.get(name);
      if (slot === undefined) throw new InputError(`tensor ${name} was not produced before it is read`);
      return slot;
    },
    has(name) {
      return slots.has(name);
    },
    bindExternal(name, tensor) {
      unbind(name);
      slots.set(name, { buffer: tensor.buffer, dims: [...tensor.dims], holder: 'external' });
    },
    upload(name, tensor) {
      const bytes = tensor.data.byteLength;
      const buffer = ownedBuffer(name, bytes);
      unbind(name);
      device.queue.writeBuffer(buffer, 0, tensor.data.buffer, tensor.data.byteOffset, bytes);
      slots.set(name, { buffer, dims: [...tensor.dims], holder: 'owned' });
    },
    reserve(name, dims, exactSize) {
      const buffer = ownedBuffer(name, elementCount(dims) * 4, exactSize);
      unbind(name);
      const slot: Slot = { buffer, dims: [...dims], holder: 'owned' };
      slots.set(name, slot);
      return slot;
    },
    bindManaged(name, tensor, release) {
      unbind(name);
      slots.set(name, { buffer: tensor.buffer, dims: [...tensor.dims], holder: 'managed', release });
    },
    async read(names) {
      const encoder = device.createCommandEncoder({ label: `${label}:readback` });
      const copies = names.map((name) => {
        const tensor = store.get(name);
        const bytes = elementCount(tensor.dims) * 4;
        const target = stagingBuffer(name, alignTo(Math.max(bytes, 4), 4));
        if (bytes > 0) encoder.copyBufferToBuffer(tensor.buffer, 0, target, 0, bytes);
        return { name, dims: tensor.dims, bytes, target };
      });
      device.queue.submit([encoder.finish()]);
      await Promise.all(copies.map(({ target }) => target.mapAsync(GPUMapMode.READ)));
      const out: Record<string, HostTensor> = {};
      for (const { name, dims, bytes, target } of copies) {
        out[name] = { data: new Float32Array(target.getMappedRange(0, target.size).slice(0, bytes)), dims: [...dims] };
        target.unmap();
      }
      return out;
    },
    stats() {
      let ownedBytes = 0;
      for (const buffer of owned.values()) ownedBytes += buffer.size;
      for (const buffer of staging.values()) ownedBytes += buffer.size;
      return { ownedBuffers: owned.size + staging.size, ownedBytes };
    },
    reset() {
      for (const name of [...slots.keys()]) unbind(name);
      for (const buffer of owned.values()) buffer.destroy();
      for (const buffer of staging.values()) buffer.destroy();
      owned.clear();
      staging.clear();
    },
    dispose() {
      store.reset();
    },
  };
  return store;
}
