/**
 * WGSL deformable attention for the RT-DETR family (shaders/ms_deform_attn_rt.wgsl documents bindings and
 * layouts): per-level point counts, 'discrete' sampling, box offset scale, shared reference rows.
 *
 *   const kernel = await createMsDeformAttnRt(device);           // compiles pipelines once
 *   const call = kernel.prepareFused(shape, buffers);            // once per shape + buffer set
 *   call.encode(pass);                                           // every frame: no allocations
 */
import shaderSource from '../../shaders/ms_deform_attn_rt.wgsl?raw';
import { DisposedError, InputError } from '../errors.js';
import { getComputePipeline, getShaderModule } from '../gpu/pipeline-cache.js';
// The bindings, operand checks and bound call both deformable-attention wrappers share.
import * as msda from './ms-deform-attn-gpu.js';
import {
  type MsDeformAttnRtFusedShape,
  type MsDeformAttnRtShape,
  pointsPerLevel,
  rtTensorSizes,
  rtValueTokens,
  samplesPerHead,
  validateRtShape,
} from './ms-deform-attn-rt-shape.js';

const LABEL = 'ms_deform_attn_rt';
/** 12 scalars (8 u32, offset_scale, reference_levels, 2 pad) + 8 vec4<u32> level records. */
const PARAMS_BYTES = 12 * 4 + 8 * 16;
/** Sample-capacity tiers: RT-DETR's 3 levels x 4 points = 12 fit the small one. */
const SMALL_CAPACITY = 16;
const LARGE_CAPACITY = 128;

/** A call bound to its buffers and RT-DETR shape. */
export type PreparedMsDeformAttnRt = msda.PreparedCall<MsDeformAttnRtShape>;

export interface MsDeformAttnRtKernel {
  prepareCore(shape: MsDeformAttnRtShape, buffers: msda.MsDeformAttnCoreBuffers): PreparedMsDeformAttnRt;
  prepareFused(shape: MsDeformAttnRtFusedShape, buffers: msda.MsDeformAttnFusedBuffers): PreparedMsDeformAttnRt;
  dispose(): void;
}

export interface MsDeformAttnRtOptions {
  /** Threads per (batch, query, head) pair; default 32. */
  threadsPerPair?: number;
}

export async function createMsDeformAttnRt(device: GPUDevice, options: MsDeformAttnRtOptions = {}): Promise<MsDeformAttnRtKernel> {
  const lanes = options.threadsPerPair ?? 32;
  const maxThreads = device.limits.maxComputeInvocationsPerWorkgroup;
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > maxThreads) {
    throw new InputError(`msDeformAttnRt: ${lanes} threads per pair exceeds the device's ${maxThreads} per workgroup`);
  }
  const layouts = msda.createLayouts(device, LABEL);
  const module = getShaderModule(device, LABEL, shaderSource);
  // Every (entry, R, method, capacity) pipeline is compiled up front (12, in parallel) so prepare stays synchronous.
  const keyOf = (entryPoint: 'core' | 'fused', referenceDim: number, discrete: boolean, capacity: number) =>
    `${LABEL}:${entryPoint}:${lanes}:${capacity}:${referenceDim}:${discrete ? 'discrete' : 'default'}`;
  const variants: Array<['core' | 'fused', number, boolean, number]> = [];
  for (const capacity of [SMALL_CAPACITY, LARGE_CAPACITY]) {
    for (const discrete of [false, true]) {
      variants.push(['core', 2, discrete, capacity], ['fused', 2, discrete, capacity], ['fused', 4, discrete, capacity]);
    }
  }
  const pipelines = new Map<string, GPUComputePipeline>();
  await Promise.all(
    variants.map(async ([entryPoint, referenceDim, discrete, capacity]) => {
      const key = keyOf(entryPoint, referenceDim, discrete, capacity);
      const pipeline = await getComputePipeline(device, key, () => ({
        label: key,
        layout: layouts.pipeline(entryPoint),
        compute: {
          module,
          entryPoint,
          constants: { LANES: lanes, SAMPLE_CAPACITY: capacity, REFERENCE_DIM: referenceDim, DISCRETE: discrete ? 1 : 0 },
        },
      }));
      pipelines.set(key, pipeline);
    }),
  );
  const pipelineFor = (entryPoint: 'core' | 'fused', referenceDim: number, discrete: boolean, capacity: number): GPUComputePipeline => {
    const found = pipelines.get(keyOf(entryPoint, referenceDim, discrete, capacity));
    if (!found) throw new InputError(`msDeformAttnRt: no pipeline for ${entryPoint} R=${referenceDim}`);
    return found;
  };
  const prepared = new Set<PreparedMsDeformAttnRt>();
  let disposed = false;

  function prepare(
    shape: MsDeformAttnRtShape,
    operands: msda.Operand[],
    entryPoint: 'core' | 'fused',
    fused: { referenceDim: number; referenceLevels: number; offsetScale: number },
  ): PreparedMsDeformAttnRt {
    if (disposed) throw new DisposedError('msDeformAttnRt kernel');
    msda.checkOperands('msDeformAttnRt', operands);
    const samples = samplesPerHead(shape);
    const capacity = samples <= SMALL_CAPACITY ? SMALL_CAPACITY : LARGE_CAPACITY;
    const chosen = pipelineFor(entryPoint, fused.referenceDim, shape.method === 'discrete', capacity);
    const pairCount = shape.batch * shape.queries * shape.heads;
    const dispatch = msda.dispatchSize(device, 'msDeformAttnRt', pairCount, pairCount);

    const data = new ArrayBuffer(PARAMS_BYTES);
    const u32 = new Uint32Array(data);
    u32.set([shape.batch, shape.queries, shape.heads, shape.headDim, shape.levels.length, samples, rtValueTokens(shape), pairCount]);
    new Float32Array(data, 8 * 4, 1)[0] = fused.offsetScale;
    u32[9] = fused.referenceLevels;
    const points = pointsPerLevel(shape);
    let start = 0;
    shape.levels.forEach(([h, w], i) => {
      u32.set([h, w, start, points[i]!], 12 + i * 4);
      start += h * w;
    });
    const layout = entryPoint === 'core' ? layouts.core : layouts.fused;
    return msda.bindCall(device, { label: LABEL, shape, pipeline: chosen, layout, params: data, operands, dispatch, live: prepared });
  }

  return {
    prepareCore(shape, buffers) {
      validateRtShape(shape);
      const sizes = rtTensorSizes(shape);
      return prepare(shape, msda.coreOperands(buffers, sizes), 'core', { referenceDim: 2, referenceLevels: 1, offsetScale: 0.5 });
    },
    prepareFused(shape, buffers) {
      validateRtShape(shape, shape);
      const shared = shape.sharedReference ?? false;
      const sizes = rtTensorSizes(shape, shape.referenceDim, shared);
      return prepare(shape, msda.fusedOperands(buffers, sizes), 'fused', {
        referenceDim: shape.referenceDim,
        referenceLevels: shared ? 1 : shape.levels.length,
        offsetScale: shape.offsetScale ?? 0.5,
      });
    },
    dispose() {
      disposed = true;
      for (const call of [...prepared]) call.dispose();
    },
  };
}
