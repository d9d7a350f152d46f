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
import { levelStarts, tensorSizes, validateShape, valueTokens, type MsDeformAttnShape, type ReferenceDim } from './ms-deform-attn-shape.js';

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
  /**
   * Threads per (batch, query, head) pair, each gathering channels c, c + threads, ...; default 32
   * (one per channel at D = 32). On SwiftShader 16 measured 1.0-1.8x faster (noisy, shared CPU).
   */
  threadsPerPair?: number;
  /**
   * (batch, query, head) pairs per workgroup. Default 1: measured fastest on SwiftShader (4 pairs
   * took 2x longer); more pairs fill wave64 hardware and amortize barriers on real GPUs.
   */
  pairsPerWorkgroup?: number;
}

const storage = (binding: number, type: GPUBufferBindingType = 'read-only-storage'): GPUBindGroupLayoutEntry => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type },
});

/** Workgroup bytes per sample slot: corner indices + corner weights (vec4 each) + logit + exp. */
const SLOT_BYTES = 16 + 16 + 4 + 4;
/** Sample-capacity tiers: the model's L*P = 16 gets small slots; up to 8 x 16 = 128 the large ones. */
const SMALL_CAPACITY = 16;
const LARGE_CAPACITY = 128;

type Entry = 'core' | 'fused2' | 'fused4';
interface Tier {
  pairs: number;
  pipelines: Record<Entry, GPUComputePipeline>;
}

export async function createMsDeformAttn(device: GPUDevice, options: MsDeformAttnOptions = {}): Promise<MsDeformAttnKernel> {
  const lanes = options.threadsPerPair ?? 32;
  const pairs = options.pairsPerWorkgroup ?? 1;
  const maxThreads = device.limits.maxComputeInvocationsPerWorkgroup;
  if (!Number.isInteger(lanes) || !Number.isInteger(pairs) || lanes < 1 || pairs < 1 || lanes * pairs > maxThreads) {
    throw new InputError(`msDeformAttn: ${lanes} threads per pair x ${pairs} pairs exceeds the device's ${maxThreads} per workgroup`);
  }
  const memory = device.limits.maxComputeWorkgroupStorageSize;
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
  const pipeline = (entryPoint: 'core' | 'fused', referenceDim: ReferenceDim, capacity: number, tierPairs: number) =>
    getComputePipeline(device, `${LABEL}:${entryPoint}:${lanes}x${tierPairs}:${capacity}:${referenceDim}`, () => ({
      label: `${LABEL}:${entryPoint}:r${referenceDim}:c${capacity}`,
      layout: device.createPipelineLayout({
        label: `${LABEL}:${entryPoint}`,
        bindGroupLayouts: [entryPoint === 'core' ? coreLayout : fusedLayout],
      }),
      compute: {
        module,
        entryPoint,
        constants: { LANES: lanes, PAIRS: tierPairs, SAMPLE_CAPACITY: capacity, REFERENCE_DIM: referenceDim },
      },
    }));
  const tier = async (capacity: number): Promise<Tier> => {
    const tierPairs = Math.max(1, Math.min(pairs, Math.floor(memory / (capacity * SLOT_BYTES))));
    const [core, fused2, fused4] = await Promise.all([
      pipeline('core', 2, capacity, tierPairs),
      pipeline('fused', 2, capacity, tierPairs),
      pipeline('fused', 4, capacity, tierPairs),
    ]);
    return { pairs: tierPairs, pipelines: { core, fused2, fused4 } };
  };
  const [small, large] = await Promise.all([tier(SMALL_CAPACITY), tier(LARGE_CAPACITY)]);
  const prepared = new Set<PreparedMsDeformAttn>();
  let disposed = false;

  function prepare(
    shape: MsDeformAttnShape,
    entries: Array<[binding: number, name: string, buffer: GPUBuffer, elements: number, needsWrite?: boolean]>,
    entry: Entry,
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
    const { pairs: pairsPerGroup, pipelines } = shape.levels.length * shape.points <= SMALL_CAPACITY ? small : large;
    const chosen = pipelines[entry];
    const pairCount = shape.batch * shape.queries * shape.heads;
    const groups = Math.ceil(pairCount / pairsPerGroup);
    const dispatchX = Math.min(groups, MAX_DISPATCH_X);
    const dispatchY = Math.ceil(groups / dispatchX);
    if (dispatchY > device.limits.maxComputeWorkgroupsPerDimension)
      throw new InputError(`msDeformAttn: ${pairCount} (query, head) pairs is too many`);

    const uniform = new Uint32Array(PARAMS_BYTES / 4);
    uniform.set([shape.batch, shape.queries, shape.heads, shape.headDim, shape.levels.length, shape.points, valueTokens(shape), pairCount]);
    const starts = levelStarts(shape);
    shape.levels.forEach(([h, w], i) => {
      uniform.set([h, w, starts[i] ?? 0, 0], 8 + i * 4);
    });
    const paramsBuffer = device.createBuffer({
      label: `${LABEL}:params`,
      size: PARAMS_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(paramsBuffer, 0, uniform);
    const bindGroup = device.createBindGroup({
      label: LABEL,
      layout,
      entries: [
        { binding: 0, resource: { buffer: paramsBuffer } },
        ...entries.map(([binding, , buffer]) => ({ binding, resource: { buffer } })),
      ],
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
        'core',
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
        shape.referenceDim === 2 ? 'fused2' : 'fused4',
        fusedLayout,
      );
    },
    dispose() {
      disposed = true;
      for (const call of [...prepared]) call.dispose();
    },
  };
}
