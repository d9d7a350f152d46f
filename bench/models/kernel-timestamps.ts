/**
 * Timestamp queries around the package runner's kernel passes without touching the runtime: while
 * armed, every compute pass labelled 'ms_deform_attn:<stage>' gets a timestamp pair (src/gpu/gpu-timer.ts)
 * and its encoder resolves the pair before finish(). Patches GPUCommandEncoder prototypes: a
 * benchmark page only. Without 'timestamp-query' it records nothing.
 */
import { createGpuTimer, type GpuTimer, type PassTiming } from '../../src/gpu/gpu-timer.js';

export interface KernelTimestamps {
  readonly enabled: boolean;
  /** Time kernel passes from now on. */
  arm(): void;
  /** Stop timing; the GPU times (ms) of the passes since arm(), in order, labelled by stage. */
  collect(): Promise<{ stage: string; gpuMs: number }[]>;
}

const PREFIX = 'ms_deform_attn:';

export function installKernelTimestamps(device: GPUDevice): KernelTimestamps {
  const timer: GpuTimer = createGpuTimer(device, { capacity: 1, label: 'bench:kernel-timestamps' });
  let armed = false;
  let resolved = 0;
  const timed = new WeakSet<GPUCommandEncoder>();
  const beginComputePass = GPUCommandEncoder.prototype.beginComputePass;
  GPUCommandEncoder.prototype.beginComputePass = function (this: GPUCommandEncoder, descriptor?: GPUComputePassDescriptor) {
    const label = descriptor?.label ?? '';
    if (!armed || !timer.enabled || !label.startsWith(PREFIX) || descriptor?.timestampWrites !== undefined || timed.has(this)) {
      return beginComputePass.call(this, descriptor);
    }
    timed.add(this);
    return beginComputePass.call(this, { ...descriptor, timestampWrites: timer.passTimestampWrites(label.slice(PREFIX.length)) });
  };
  const finish = GPUCommandEncoder.prototype.finish;
  GPUCommandEncoder.prototype.finish = function (this: GPUCommandEncoder, descriptor?: GPUCommandBufferDescriptor) {
    if (timed.has(this)) {
      timed.delete(this);
      timer.resolve(this);
      resolved++;
    }
    return finish.call(this, descriptor);
  };
  return {
    enabled: timer.enabled,
    arm() {
      armed = true;
    },
    async collect() {
      armed = false;
      const out: { stage: string; gpuMs: number }[] = [];
      for (; resolved > 0; resolved--) {
        const timings: PassTiming[] = await timer.read();
        for (const t of timings) out.push({ stage: t.label, gpuMs: t.durationNs / 1e6 });
      }
      return out;
    },
  };
}
