/**
 * The adapter's copy bandwidth in the same run as the kernels: a vec4 copy shader (timed with
 * timestamp queries and wall time) and copyBufferToBuffer (wall time only). Bandwidth counts bytes
 * read + bytes written.
 */
import copySource from './copy_bandwidth.wgsl?raw';
import { createGpuTimer } from '../../src/gpu/gpu-timer.js';
import { repeat, summarize, type RepeatOptions, type Summary } from './stats.js';

const LABEL = 'bench:copy-bandwidth';
const WORKGROUP_SIZE = 256;

export interface CopyBandwidth {
  bytes: number;
  shaderGpuMs: Summary | null;
  shaderWallMs: Summary;
  bufferCopyWallMs: Summary;
  /** (read + written bytes) / median time, in GB/s */
  shaderGpuGBps: number | null;
  shaderWallGBps: number;
  bufferCopyWallGBps: number;
}

export async function measureCopyBandwidth(device: GPUDevice, bytes: number, repeatOptions: RepeatOptions): Promise<CopyBandwidth> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const source = device.createBuffer({ label: `${LABEL}:source`, size: bytes, usage });
  const target = device.createBuffer({ label: `${LABEL}:target`, size: bytes, usage });
  const module = device.createShaderModule({ label: LABEL, code: copySource });
  const pipeline = await device.createComputePipelineAsync({
    label: LABEL,
    layout: 'auto',
    compute: { module, entryPoint: 'main', constants: { WORKGROUP_SIZE } },
  });
  const bindGroup = device.createBindGroup({
    label: LABEL,
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: source } },
      { binding: 1, resource: { buffer: target } },
    ],
  });
  const workgroups = Math.ceil(bytes / 16 / WORKGROUP_SIZE);
  const dispatchX = Math.min(workgroups, 65535);
  const dispatchY = Math.ceil(workgroups / dispatchX);
  const timer = createGpuTimer(device, { capacity: 1, label: LABEL });

  const shaderRuns = await repeat(async () => {
    const started = performance.now();
    const encoder = device.createCommandEncoder({ label: LABEL });
    const pass = encoder.beginComputePass({ label: LABEL, timestampWrites: timer.passTimestampWrites('copy') });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(dispatchX, dispatchY);
    pass.end();
    timer.resolve(encoder);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - started;
    const [timing] = await timer.read();
    return { wallMs, gpuMs: timing ? timing.durationNs / 1e6 : null };
  }, repeatOptions);

  const copyRuns = await repeat(async () => {
    const started = performance.now();
    const encoder = device.createCommandEncoder({ label: LABEL });
    encoder.copyBufferToBuffer(source, 0, target, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - started;
  }, repeatOptions);

  timer.dispose();
  source.destroy();
  target.destroy();

  const gpuSamples = shaderRuns.flatMap((r) => (r.gpuMs === null ? [] : [r.gpuMs]));
  const shaderGpuMs = gpuSamples.length > 0 ? summarize(gpuSamples) : null;
  const shaderWallMs = summarize(shaderRuns.map((r) => r.wallMs));
  const bufferCopyWallMs = summarize(copyRuns);
  const gbps = (ms: number) => (2 * bytes) / (ms * 1e6);
  return {
    bytes,
    shaderGpuMs,
    shaderWallMs,
    bufferCopyWallMs,
    shaderGpuGBps: shaderGpuMs ? gbps(shaderGpuMs.median) : null,
    shaderWallGBps: gbps(shaderWallMs.median),
    bufferCopyWallGBps: gbps(bufferCopyWallMs.median),
  };
}
