/**
 * Live and peak GPU buffer bytes, split into ours (the package runner's tensor store and the kernel's
 * buffers: labels 'package-runner-gpu…' / 'ms_deform_attn…') and everything else (onnxruntime-web's
 * weights and scratch). Patches GPUDevice/GPUBuffer prototypes for the page's lifetime: a benchmark
 * page only, never the runtime.
 */
const OURS = /^(package-runner-gpu|ms_deform_attn)/;

export interface BufferBytes {
  ours: number;
  all: number;
}

export interface BufferTracker {
  live(): BufferBytes;
  /** Peak since the last resetPeak(). */
  peak(): BufferBytes;
  resetPeak(): void;
}

export function installBufferTracker(): BufferTracker {
  const sizes = new WeakMap<GPUBuffer, { bytes: number; ours: boolean }>();
  const live: BufferBytes = { ours: 0, all: 0 };
  let peak: BufferBytes = { ...live };
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    const buffer = createBuffer.call(this, descriptor);
    const ours = OURS.test(descriptor.label ?? '');
    sizes.set(buffer, { bytes: descriptor.size, ours });
    live.all += descriptor.size;
    if (ours) live.ours += descriptor.size;
    peak = { ours: Math.max(peak.ours, live.ours), all: Math.max(peak.all, live.all) };
    return buffer;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    const entry = sizes.get(this);
    if (entry !== undefined) {
      sizes.delete(this);
      live.all -= entry.bytes;
      if (entry.ours) live.ours -= entry.bytes;
    }
    destroy.call(this);
  };
  return {
    live: () => ({ ...live }),
    peak: () => ({ ...peak }),
    resetPeak() {
      peak = { ...live };
    },
  };
}
