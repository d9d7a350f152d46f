/**
 * Our side: the WGSL MSDeformAttn kernel (src/kernels/ms-deform-attn.ts), one compute pass per run,
 * timed by a timestamp-query pair around the pass and by wall time to onSubmittedWorkDone.
 */
import { createMsDeformAttn, type MsDeformAttnKernel, type PreparedMsDeformAttn } from '../../src/kernels/ms-deform-attn.js';
import type { MsDeformAttnShape } from '../../src/kernels/ms-deform-attn-shape.js';
import { createGpuTimer, type GpuTimer } from '../../src/gpu/gpu-timer.js';
import type { BenchCase, GraphKind } from './bench-case.js';

export interface KernelBuffers {
  value: GPUBuffer;
  referencePoints: GPUBuffer;
  samplingOffsets: GPUBuffer;
  attentionLogits: GPUBuffer;
  samplingLocations: GPUBuffer;
  attentionWeights: GPUBuffer;
  output: GPUBuffer;
}

export interface KernelRun {
  wallMs: number;
  /** Pass time from timestamp queries; null without 'timestamp-query'. */
  gpuMs: number | null;
}

export interface OurKernel {
  run(kind: GraphKind): Promise<KernelRun>;
  dispose(): void;
}

export async function createOurKernel(device: GPUDevice, c: BenchCase, buffers: KernelBuffers): Promise<OurKernel> {
  const kernel: MsDeformAttnKernel = await createMsDeformAttn(device);
  const shape: MsDeformAttnShape = {
    batch: c.batch,
    queries: c.queries,
    heads: c.heads,
    headDim: c.headDim,
    levels: c.levels,
    points: c.points,
  };
  const calls: Record<GraphKind, PreparedMsDeformAttn> = {
    core: kernel.prepareCore(shape, buffers),
    fused: kernel.prepareFused({ ...shape, referenceDim: c.referenceDim }, buffers),
  };
  const timer: GpuTimer = createGpuTimer(device, { capacity: 1, label: 'bench:ms_deform_attn' });
  return {
    async run(kind) {
      const started = performance.now();
      const encoder = device.createCommandEncoder({ label: `bench:ms_deform_attn:${kind}` });
      const pass = encoder.beginComputePass({
        label: `bench:ms_deform_attn:${kind}`,
        timestampWrites: timer.passTimestampWrites(kind),
      });
      calls[kind].encode(pass);
      pass.end();
      timer.resolve(encoder);
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const wallMs = performance.now() - started;
      const [timing] = await timer.read();
      return { wallMs, gpuMs: timing ? timing.durationNs / 1e6 : null };
    },
    dispose() {
      timer.dispose();
      calls.core.dispose();
      calls.fused.dispose();
      kernel.dispose();
    },
  };
}
