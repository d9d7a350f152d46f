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
// The bindings, operand checks and bound call both deformable-attention wrappers share.
import * as msda from './ms-deform-attn-gpu.js';
import { levelStarts, tensorSizes, validateShape, valueTokens, type MsDeformAttnShape, type ReferenceDim } from './ms-deform-attn-shape.js';

export type { MsDeformAttnCoreBuffers, MsDeformAttnFusedBuffers } from './ms-deform-attn-gpu.js';

const LABEL = 'ms_deform_attn';
/** 8 u32 scalars + 8 vec4<u32> level records. */
const PARAMS_BYTES = 8 * 4 + 8 * 16;

/** A call bound to its buffers and shape; encode it every frame, dispose it when the buffers go. */
export type PreparedMsDeformAttn = msda.PreparedCall<MsDeformAttnShape>;

export interface MsDeformAttnKernel {
  prepareCore(shape: MsDeformAttnShape, buffers: msda.MsDeformAttnCoreBuffers): PreparedMsDeformAttn;
  prepareFused(shape: MsDeformAttnShape & { referenceDim: ReferenceDim }, buffers: msda.MsDeformAttnFusedBuffers): PreparedMsDeformAttn;
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
  const layouts = msda.createLayouts(device, LABEL);
  const module = getShaderModule(device, LABEL, shaderSource);
  const pipeline = (entryPoint: 'core' | 'fused', referenceDim: ReferenceDim, capacity: number, tierPairs: number) =>
    getComputePipeline(device, `${LABEL}:${entryPoint}:${lanes}x${tierPairs}:${capacity}:${referenceDim}`, () => ({
      label: `${LABEL}:${entryPoint}:r${referenceDim}:c${capacity}`,
      layout: layouts.pipeline(entryPoint),
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

  function prepare(shape: MsDeformAttnShape, operands: msda.Operand[], entry: Entry, layout: GPUBindGroupLayout): PreparedMsDeformAttn {
    if (disposed) throw new DisposedError('msDeformAttn kernel');
    msda.checkOperands('msDeformAttn', operands);
    const { pairs: pairsPerGroup, pipelines } = shape.levels.length * shape.points <= SMALL_CAPACITY ? small : large;
    const pairCount = shape.batch * shape.queries * shape.heads;
    const dispatch = msda.dispatchSize(device, 'msDeformAttn', Math.ceil(pairCount / pairsPerGroup), pairCount);

    const uniform = new Uint32Array(PARAMS_BYTES / 4);
    uniform.set([shape.batch, shape.queries, shape.heads, shape.headDim, shape.levels.length, shape.points, valueTokens(shape), pairCount]);
    const starts = levelStarts(shape);
    shape.levels.forEach(([h, w], i) => {
      uniform.set([h, w, starts[i] ?? 0, 0], 8 + i * 4);
    });
    return msda.bindCall(device, {
      label: LABEL,
      shape,
      pipeline: pipelines[entry],
      layout,
      params: uniform.buffer,
      operands,
      dispatch,
      live: prepared,
    });
  }

  return {
    prepareCore(shape, buffers) {
      validateShape(shape);
      const sizes = tensorSizes(shape);
      return prepare(shape, msda.coreOperands(buffers, sizes), 'core', layouts.core);
    },
    prepareFused(shape, buffers) {
      validateShape(shape, shape.referenceDim);
      const sizes = tensorSizes(shape, shape.referenceDim);
      return prepare(shape, msda.fusedOperands(buffers, sizes), shape.referenceDim === 2 ? 'fused2' : 'fused4', layouts.fused);
    },
    dispose() {
      disposed = true;
      for (const call of [...prepared]) call.dispose();
    },
  };
}
