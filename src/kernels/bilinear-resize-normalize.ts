/**
 * Image preprocessing kernel: rgba8unorm texture -> resized, normalized [3, H, W] float32 in one
 * pass (shaders/bilinear_resize_normalize.wgsl documents bindings and the exact index math).
 *
 *   const kernel = await createBilinearResizeNormalize(device);        // compiles both modes once
 *   const call = kernel.prepare({ source: texture, output, outWidth: 512, outHeight: 384, mode: 'antialias' });
 *   call.encode(pass);                                                   // every frame: no allocations
 */
import shaderSource from '../../shaders/bilinear_resize_normalize.wgsl?raw';
import { DisposedError } from '../errors.js';
import {
  resolveNormalizeOptions,
  validateDownscale,
  validateOutputSize,
  type BilinearMode,
  type NormalizeOptions,
} from './bilinear-options.js';
import { checkOutputBuffer, checkSourceTexture, createModePipelines, normalizeUniform, WORKGROUP_SIDE } from './bilinear-gpu.js';

const LABEL = 'bilinear_resize_normalize';

export interface ResizeNormalizeRequest extends NormalizeOptions {
  /** rgba8unorm texture with TEXTURE_BINDING usage (see createPixelUploader); its size is the input size. */
  source: GPUTexture;
  /** STORAGE buffer of at least 3 * outHeight * outWidth floats; receives [3, outHeight, outWidth]. */
  output: GPUBuffer;
  outWidth: number;
  outHeight: number;
}

/** Bound to one texture, output buffer and shape; encode it every frame. */
export interface PreparedResizeNormalize {
  readonly outWidth: number;
  readonly outHeight: number;
  readonly mode: BilinearMode;
  encode(pass: GPUComputePassEncoder): void;
  dispose(): void;
}

export interface BilinearResizeNormalizeKernel {
  prepare(request: ResizeNormalizeRequest): PreparedResizeNormalize;
  dispose(): void;
}

export async function createBilinearResizeNormalize(device: GPUDevice): Promise<BilinearResizeNormalizeKernel> {
  const layout = device.createBindGroupLayout({
    label: LABEL,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: 'float' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const pipelines = await createModePipelines(device, LABEL, shaderSource, layout);
  const prepared = new Set<PreparedResizeNormalize>();
  let disposed = false;

  return {
    prepare(request) {
      if (disposed) throw new DisposedError('BilinearResizeNormalize');
      const { source, output, outWidth, outHeight } = request;
      validateOutputSize(LABEL, outWidth, outHeight);
      const { mode, mean, std } = resolveNormalizeOptions(LABEL, request);
      checkSourceTexture(LABEL, source);
      validateDownscale(LABEL, mode, source.width, source.height, outWidth, outHeight);
      checkOutputBuffer(LABEL, output, 3 * outWidth * outHeight);

      const paramsBuffer = device.createBuffer({
        label: `${LABEL}:params`,
        size: 48,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(paramsBuffer, 0, normalizeUniform(outWidth, outHeight, mean, std));
      const bindGroup = device.createBindGroup({
        label: LABEL,
        layout,
        entries: [
          { binding: 0, resource: { buffer: paramsBuffer } },
          { binding: 1, resource: source.createView({ label: LABEL }) },
          { binding: 2, resource: { buffer: output } },
        ],
      });
      const pipeline = pipelines.get(mode) as GPUComputePipeline;
      const groupsX = Math.ceil(outWidth / WORKGROUP_SIDE);
      const groupsY = Math.ceil(outHeight / WORKGROUP_SIDE);
      const call: PreparedResizeNormalize = {
        outWidth,
        outHeight,
        mode,
        encode(pass) {
          if (!prepared.has(call)) throw new DisposedError('PreparedResizeNormalize');
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(groupsX, groupsY);
        },
        dispose() {
          if (prepared.delete(call)) paramsBuffer.destroy();
        },
      };
      prepared.add(call);
      return call;
    },
    dispose() {
      disposed = true;
      for (const call of [...prepared]) call.dispose();
    },
  };
}
