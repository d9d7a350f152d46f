/**
 * The RT-DETR family's deformable attention on the CPU: the WebAssembly SIMD kernel in
 * wasm/ms_deform_attn_rt.c (float64 per-sample math, float32 channel sums), tested against the float64
 * reference (ms-deform-attn-rt-reference.ts). Linear memory grows to the largest call and is reused.
 */
import { checkLength, heapCaller, type KernelExports, kernelModule } from './wasm-heap.js';
import {
  type MsDeformAttnRtFusedShape,
  type MsDeformAttnRtShape,
  pointsPerLevel,
  rtTensorSizes,
  validateRtShape,
} from './ms-deform-attn-rt-shape.js';
import { WASM_BASE64 } from './ms-deform-attn-rt-wasm-binary.js';

type Floats = Float32Array | Float64Array;

/** Entry points as wasm/ms_deform_attn_rt.c declares them: the operand pointers (inputs, then output) come first. */
interface Exports extends KernelExports {
  msdart_core(...args: number[]): number;
  msdart_fused(...args: number[]): number;
}

export interface MsDeformAttnRtWasm {
  /** value [N,S,M,D], locations [N,Lq,M,S_P,2], weights [N,Lq,M,S_P] -> [N,Lq,M*D]. */
  core(value: Floats, samplingLocations: Floats, attentionWeights: Floats, shape: MsDeformAttnRtShape): Float32Array;
  /** value [N,S,M,D], reference [N,Lq,L or 1,R], raw offsets [N,Lq,M,S_P,2], raw logits [N,Lq,M,S_P] -> [N,Lq,M*D]. */
  fused(
    value: Floats,
    referencePoints: Floats,
    samplingOffsets: Floats,
    attentionLogits: Floats,
    shape: MsDeformAttnRtFusedShape,
  ): Float32Array;
  readonly memoryBytes: number;
}

const instantiate = kernelModule<Exports>(WASM_BASE64);
const WHAT = 'msDeformAttnRt (wasm)';

/** Level records (H_l, W_l, P_l), the kernel's table. */
function levelTable(shape: MsDeformAttnRtShape): number[] {
  const points = pointsPerLevel(shape);
  return shape.levels.flatMap(([h, w], i) => [h, w, points[i]!]);
}

/** One instance (own memory) per caller; the module is compiled once per realm. */
export async function createMsDeformAttnRtWasm(): Promise<MsDeformAttnRtWasm> {
  const exports = await instantiate();
  const run = heapCaller(exports, WHAT);
  const check = (name: string, array: Floats, expected: number) => checkLength(WHAT, name, array, expected);

  return {
    core(value, samplingLocations, attentionWeights, shape) {
      validateRtShape(shape);
      const sizes = rtTensorSizes(shape);
      check('value', value, sizes.value);
      check('samplingLocations', samplingLocations, sizes.samplingLocations);
      check('attentionWeights', attentionWeights, sizes.attentionWeights);
      const { batch, queries, heads, headDim } = shape;
      const discrete = shape.method === 'discrete' ? 1 : 0;
      return run(levelTable(shape), [value, samplingLocations, attentionWeights], sizes.output, (pointers, table) =>
        exports.msdart_core(...pointers, batch, queries, heads, headDim, table, shape.levels.length, discrete),
      );
    },
    fused(value, referencePoints, samplingOffsets, attentionLogits, shape) {
      validateRtShape(shape, shape);
      const shared = shape.sharedReference ?? false;
      const sizes = rtTensorSizes(shape, shape.referenceDim, shared);
      check('value', value, sizes.value);
      check('referencePoints', referencePoints, sizes.referencePoints);
      check('samplingOffsets', samplingOffsets, sizes.samplingOffsets);
      check('attentionLogits', attentionLogits, sizes.attentionLogits);
      const { batch, queries, heads, headDim, referenceDim } = shape;
      const levelCount = shape.levels.length;
      const discrete = shape.method === 'discrete' ? 1 : 0;
      return run(levelTable(shape), [value, referencePoints, samplingOffsets, attentionLogits], sizes.output, (pointers, table) =>
        exports.msdart_fused(
          ...pointers,
          batch,
          queries,
          heads,
          headDim,
          table,
          levelCount,
          discrete,
          referenceDim,
          shared ? 1 : levelCount,
          shape.offsetScale ?? 0.5,
        ),
      );
    },
    get memoryBytes() {
      return exports.memory.buffer.byteLength;
    },
  };
}
