/**
 * Query-patch kernel: K pixel rectangles of an rgba8unorm texture -> normalized [K, 3, h, w]
 * float32 in one pass (shaders/bilinear_crop_resize.wgsl documents bindings and index math).
 * Rectangles follow PIL's Image.crop: coordinates rounded to the nearest integer (ties to even),
 * then they must be non-empty and inside the image (see roundCropRect), else InputError.
 *
 *   const kernel = await createBilinearCropResize(device);
 *   const call = kernel.prepare({ source: texture, output, maxRects: 10, mode: 'antialias' }); // 128x128
 *   call.setRects([[51, 38, 204, 192]]);   // validates, then queue.writeBuffer into a fixed buffer
 *   call.encode(pass);
 */
import shaderSource from '../../shaders/bilinear_crop_resize.wgsl?raw';
import { DisposedError, InputError } from '../errors.js';
import {
  resolveNormalizeOptions,
  roundCropRect,
  validateDownscale,
  validateOutputSize,
  type BilinearMode,
  type CropRect,
  type NormalizeOptions,
} from './bilinear-options.js';
import { checkOutputBuffer, checkSourceTexture, createModePipelines, normalizeUniform, WORKGROUP_SIDE } from './bilinear-gpu.js';

const LABEL = 'bilinear_crop_resize';
export const DEFAULT_PATCH_SIZE = 128;

export interface CropResizeRequest extends NormalizeOptions {
  /** rgba8unorm texture with TEXTURE_BINDING usage (see createPixelUploader). */
  source: GPUTexture;
  /** STORAGE buffer of at least maxRects * 3 * outHeight * outWidth floats: [K, 3, outHeight, outWidth]. */
  output: GPUBuffer;
  /** Most rectangles one setRects() may pass. */
  maxRects: number;
  /** Default 128. */
  outWidth?: number;
  /** Default 128. */
  outHeight?: number;
}

export interface PreparedCropResize {
  readonly maxRects: number;
  readonly outWidth: number;
  readonly outHeight: number;
  readonly mode: BilinearMode;
  /** Rectangles set by the last setRects(). */
  readonly rectCount: number;
  /** Validates every rectangle (InputError, nothing written) and queues them for the next encode(). */
  setRects(rects: readonly CropRect[]): void;
  encode(pass: GPUComputePassEncoder): void;
  dispose(): void;
}

export interface BilinearCropResizeKernel {
  prepare(request: CropResizeRequest): PreparedCropResize;
  dispose(): void;
}

export async function createBilinearCropResize(device: GPUDevice): Promise<BilinearCropResizeKernel> {
  const layout = device.createBindGroupLayout({
    label: LABEL,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: 'float' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const pipelines = await createModePipelines(device, LABEL, shaderSource, layout);
  const prepared = new Set<PreparedCropResize>();
  let disposed = false;

  return {
    prepare(request) {
      if (disposed) throw new DisposedError('BilinearCropResize');
      const { source, output, maxRects } = request;
      const outWidth = request.outWidth ?? DEFAULT_PATCH_SIZE;
      const outHeight = request.outHeight ?? DEFAULT_PATCH_SIZE;
      validateOutputSize(LABEL, outWidth, outHeight);
      const { mode, mean, std } = resolveNormalizeOptions(LABEL, request);
      if (!Number.isInteger(maxRects) || maxRects < 1 || maxRects > device.limits.maxComputeWorkgroupsPerDimension) {
        throw new InputError(
          `${LABEL}: maxRects must be an integer in [1, ${device.limits.maxComputeWorkgroupsPerDimension}], got ${maxRects}`,
        );
      }
      checkSourceTexture(LABEL, source);
      checkOutputBuffer(LABEL, output, maxRects * 3 * outWidth * outHeight);

      const paramsBuffer = device.createBuffer({
        label: `${LABEL}:params`,
        size: 48,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(paramsBuffer, 0, normalizeUniform(outWidth, outHeight, mean, std));
      const rectBuffer = device.createBuffer({
        label: `${LABEL}:rects`,
        size: maxRects * 16,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      const rectScratch = new Uint32Array(maxRects * 4);
      const bindGroup = device.createBindGroup({
        label: LABEL,
        layout,
        entries: [
          { binding: 0, resource: { buffer: paramsBuffer } },
          { binding: 1, resource: source.createView({ label: LABEL }) },
          { binding: 2, resource: { buffer: rectBuffer } },
          { binding: 3, resource: { buffer: output } },
        ],
      });
      const pipeline = pipelines.get(mode) as GPUComputePipeline;
      const groupsX = Math.ceil(outWidth / WORKGROUP_SIDE);
      const groupsY = Math.ceil(outHeight / WORKGROUP_SIDE);
      let rectCount = 0;

      const call: PreparedCropResize = {
        maxRects,
        outWidth,
        outHeight,
        mode,
        get rectCount() {
          return rectCount;
        },
        setRects(rects) {
          if (!prepared.has(call)) throw new DisposedError('PreparedCropResize');
          if (rects.length < 1 || rects.length > maxRects)
            throw new InputError(`${LABEL}: expected 1..${maxRects} rectangles, got ${rects.length}`);
          rects.forEach((rect, k) => {
            const [x0, y0, x1, y1] = roundCropRect(LABEL, rect, source.width, source.height);
            validateDownscale(LABEL, mode, x1 - x0, y1 - y0, outWidth, outHeight);
            rectScratch.set([x0, y0, x1, y1], k * 4);
          });
          device.queue.writeBuffer(rectBuffer, 0, rectScratch, 0, rects.length * 4);
          rectCount = rects.length;
        },
        encode(pass) {
          if (!prepared.has(call)) throw new DisposedError('PreparedCropResize');
          if (rectCount === 0) throw new InputError(`${LABEL}: encode() before setRects()`);
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(groupsX, groupsY, rectCount);
        },
        dispose() {
          if (!prepared.delete(call)) return;
          paramsBuffer.destroy();
          rectBuffer.destroy();
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
