/**
 * WGSL multi-scale deformable attention: factory, validation and encoding. The shader documents
 * bindings and layouts (shaders/ms_deform_attn.wgsl).
 *
 *   const kernel = await createMsDeformAttn(device);             // compiles pipelines once
 *   const call = kernel.prepareFused(shape, buffers);            // once per shape + buffer set
 *   call.encode(pass);                                           // every frame: no allocations
 */
import shaderSource from '../../shaders/ms_deform_attn.wgsl?raw';
import { DisposedError, InputError } from '../errors.js';
import { getComputePipeline, getShaderModule } from '../gpu/pipeline-cache.js';
import {
  levelStarts,
  tensorSizes,
  validateShape,
  valueTokens,
  type MsDeformAttnShape,
  type ReferenceDim,
} from './ms-deform-attn-shape.js';

const LABEL = 'ms_deform_attn';
const MAX_DISPATCH_X = 65535;
/** 8 u32 scalars + 8 vec4<u32> level records. */
const PARAMS_BYTES = 8 * 4 + 8 * 16;

export interface MsDeformAttnCoreBuffers {
  value: GPUBuffer;
  samplingLocations: GPUBuffer;
  attentionWeights: GPUBuffer;
  output: GPUBuffer;
}

export interface MsDeformAttnFusedBuffers {
  value: GPUBuffer;
  referencePoints: GPUBuffer;
  samplingOffsets: GPUBuffer;
  attentionLogits: GPUBuffer;
  output: GPUBuffer;
}

/** A call bound to its buffers and shape; encode it every frame, dispose it when the buffers go. */
export interface PreparedMsDeformAttn {
  readonly shape: MsDeformAttnShape;
  encode(pass: GPUComputePassEncoder): void;
  dispose(): void;
}

export interface MsDeformAttnKernel {
  prepareCore(shape: MsDeformAttnShape, buffers: MsDeformAttnCoreBuffers): PreparedMsDeformAttn;
  prepareFused(shape: MsDeformAttnShape & { referenceDim: ReferenceDim }, buffers: MsDeformAttnFusedBuffers): PreparedMsDeformAttn;
  dispose(): void;
}

export interface MsDeformAttnOptions {
  /** Invocations per (query, head) workgroup; 32 suits D = 32 (d_model 256, 8 heads). */
  workgroupSize?: number;
}

const storage = (binding: number, type: GPUBufferBindingType = 'read-only-storage'): GPUBindGroupLayoutEntry => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type },
});

export async function createMsDeformAttn(device: GPUDevice, options: MsDeformAttnOptions = {}): Promise<MsDeformAttnKernel> {
  const workgroupSize = options.workgroupSize ?? 32;
  if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || workgroupSize > device.limits.maxComputeInvocationsPerWorkgroup) {
    throw new InputError(`msDeformAttn: invalid workgroupSize ${workgroupSize}`);
  }
  const params = storage(0, 'uniform');
  const coreLayout = device.createBindGroupLayout({
    label: `${LABEL}:core`,
    entries: [params, storage(1), storage(2), storage(3), storage(7, 'storage')],
  });
  const fusedLayout = device.createBindGroupLayout({
    label: `${LABEL}:fused`,
    entries: [params, storage(1), storage(4), storage(5), storage(6), storage(7, 'storage')],
  });
  const module = getShaderModule(device, LABEL, shaderSource);
  const pipeline = (entryPoint: 'core' | 'fused', layout: GPUBindGroupLayout, referenceDim: ReferenceDim) =>
    getComputePipeline(device, `${LABEL}:${entryPoint}:${workgroupSize}:${referenceDim}`, () => ({
      label: `${LABEL}:${entryPoint}:r${referenceDim}`,
      layout: device.createPipelineLayout({ label: `${LABEL}:${entryPoint}`, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint, constants: { WORKGROUP_SIZE: workgroupSize, REFERENCE_DIM: referenceDim } },
    }));
  const [corePipeline, fusedPoints, fusedBoxes] = await Promise.all([
    pipeline('core', coreLayout, 2),
    pipeline('fused', fusedLayout, 2),
    pipeline('fused', fusedLayout, 4),
  ]);
  const prepared = new Set<PreparedMsDeformAttn>();
  let disposed = false;

  function prepare(
    shape: MsDeformAttnShape,
    entries: Array<[binding: number, name: string, buffer: GPUBuffer, elements: number, needsWrite?: boolean]>,
    chosen: GPUComputePipeline,
    layout: GPUBindGroupLayout,
  ): PreparedMsDeformAttn {
    if (disposed) throw new DisposedError('msDeformAttn kernel');
    for (const [, name, buffer, elements, needsWrite] of entries) {
      if (buffer.size < elements * 4) {
        throw new InputError(`msDeformAttn: ${name} buffer holds ${buffer.size} bytes, the shape needs ${elements * 4}`);
      }
      if (!(buffer.usage & GPUBufferUsage.STORAGE)) throw new InputError(`msDeformAttn: ${name} buffer lacks STORAGE usage`);
      if (needsWrite && entries.some(([, other, b]) => other !== name && b === buffer)) {
        throw new InputError(`msDeformAttn: output must not alias the input ${name}`);
      }
    }
    const groups = shape.batch * shape.queries * shape.heads;
    const dispatchX = Math.min(groups, MAX_DISPATCH_X);
    const dispatchY = Math.ceil(groups / dispatchX);
    if (dispatchY > device.limits.maxComputeWorkgroupsPerDimension) throw new InputError(`msDeformAttn: ${groups} (query, head) pairs is too many`);

    const uniform = new Uint32Array(PARAMS_BYTES / 4);
    uniform.set([shape.batch, shape.queries, shape.heads, shape.headDim, shape.levels.length, shape.points, valueTokens(shape), groups]);
    const starts = levelStarts(shape);
    shape.levels.forEach(([h, w], i) => uniform.set([h, w, starts[i] ?? 0, 0], 8 + i * 4));
    const paramsBuffer = device.createBuffer({ label: `${LABEL}:params`, size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(paramsBuffer, 0, uniform);
    const bindGroup = device.createBindGroup({
      label: LABEL,
      layout,
      entries: [{ binding: 0, resource: { buffer: paramsBuffer } }, ...entries.map(([binding, , buffer]) => ({ binding, resource: { buffer } }))],
    });
    const call: PreparedMsDeformAttn = {
      shape,
      encode(pass) {
        pass.setPipeline(chosen);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(dispatchX, dispatchY);
      },
      dispose() {
        paramsBuffer.destroy();
        prepared.delete(call);
      },
    };
    prepared.add(call);
    return call;
  }

  return {
    prepareCore(shape, buffers) {
      validateShape(shape);
      const sizes = tensorSizes(shape);
      return prepare(
        shape,
        [
          [1, 'value', buffers.value, sizes.value],
          [2, 'samplingLocations', buffers.samplingLocations, sizes.samplingLocations],
          [3, 'attentionWeights', buffers.attentionWeights, sizes.attentionWeights],
          [7, 'output', buffers.output, sizes.output, true],
        ],
        corePipeline,
        coreLayout,
      );
    },
    prepareFused(shape, buffers) {
      validateShape(shape, shape.referenceDim);
      const sizes = tensorSizes(shape, shape.referenceDim);
      return prepare(
        shape,
        [
          [1, 'value', buffers.value, sizes.value],
          [4, 'referencePoints', buffers.referencePoints, sizes.referencePoints],
          [5, 'samplingOffsets', buffers.samplingOffsets, sizes.samplingOffsets],
          [6, 'attentionLogits', buffers.attentionLogits, sizes.attentionLogits],
          [7, 'output', buffers.output, sizes.output, true],
        ],
        shape.referenceDim === 2 ? fusedPoints : fusedBoxes,
        fusedLayout,
      );
    },
    dispose() {
      disposed = true;
      for (const call of [...prepared]) call.dispose();
    },
  };
}
