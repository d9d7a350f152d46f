/**
 * Multi-scale deformable attention on the CPU: the WebAssembly SIMD kernel in wasm/ms_deform_attn.c (core
 * and fused entries, float32 channel sums, float64 per-sample math), the WASM backend's production kernel.
 * The float64 TypeScript reference (ms-deform-attn-reference.ts) stays the specification it is tested
 * against. The module's linear memory holds one call's operands; it grows to the largest call and is then
 * reused, so steady frames allocate nothing.
 */
import { checkLength, heapCaller, type KernelExports, kernelModule } from './wasm-heap.js';
import { tensorSizes, validateShape, type MsDeformAttnShape, type ReferenceDim } from './ms-deform-attn-shape.js';
import { WASM_BASE64 } from './ms-deform-attn-wasm-binary.js';

type Floats = Float32Array | Float64Array;

/** Entry points as wasm/ms_deform_attn.c declares them: the operand pointers (inputs, then output) come first. */
interface Exports extends KernelExports {
  /** (value, locations, weights, output, batch, queries, heads, headDim, shapes, levelCount, points) */
  msda_core(...args: number[]): number;
  /** (value, reference, offsets, logits, output, batch, queries, heads, headDim, shapes, levelCount, points, referenceDim) */
  msda_fused(...args: number[]): number;
}

export interface MsDeformAttnWasm {
  /** value [N,S,M,D], locations [N,Lq,M,L,P,2], weights [N,Lq,M,L,P] -> [N,Lq,M*D]. */
  core(value: Floats, samplingLocations: Floats, attentionWeights: Floats, shape: MsDeformAttnShape): Float32Array;
  /** value [N,S,M,D], reference [N,Lq,L,R], raw offsets [N,Lq,M,L,P,2], raw logits [N,Lq,M,L*P] -> [N,Lq,M*D]. */
  fused(
    value: Floats,
    referencePoints: Floats,
    samplingOffsets: Floats,
    attentionLogits: Floats,
    shape: MsDeformAttnShape & { referenceDim: ReferenceDim },
  ): Float32Array;
  /** Bytes of linear memory the module holds now (flat once the largest call has run). */
  readonly memoryBytes: number;
}

const instantiate = kernelModule<Exports>(WASM_BASE64);
const WHAT = 'msDeformAttn (wasm)';

/** One instance (own memory) per caller; the module is compiled once per realm. */
export async function createMsDeformAttnWasm(): Promise<MsDeformAttnWasm> {
  const exports = await instantiate();
  const run = heapCaller(exports, WHAT);
  const check = (name: string, array: Floats, expected: number) => checkLength(WHAT, name, array, expected);

  return {
    core(value, samplingLocations, attentionWeights, shape) {
      validateShape(shape);
      const sizes = tensorSizes(shape);
      check('value', value, sizes.value);
      check('samplingLocations', samplingLocations, sizes.samplingLocations);
      check('attentionWeights', attentionWeights, sizes.attentionWeights);
      const { batch, queries, heads, headDim, points } = shape;
      return run(shape.levels.flat(), [value, samplingLocations, attentionWeights], sizes.output, (pointers, shapes) =>
        exports.msda_core(...pointers, batch, queries, heads, headDim, shapes, shape.levels.length, points),
      );
    },
    fused(value, referencePoints, samplingOffsets, attentionLogits, shape) {
      validateShape(shape, shape.referenceDim);
      const sizes = tensorSizes(shape, shape.referenceDim);
      check('value', value, sizes.value);
      check('referencePoints', referencePoints, sizes.referencePoints);
      check('samplingOffsets', samplingOffsets, sizes.samplingOffsets);
      check('attentionLogits', attentionLogits, sizes.attentionLogits);
      const { batch, queries, heads, headDim, points, referenceDim } = shape;
      return run(shape.levels.flat(), [value, referencePoints, samplingOffsets, attentionLogits], sizes.output, (pointers, shapes) =>
        exports.msda_fused(...pointers, batch, queries, heads, headDim, shapes, shape.levels.length, points, referenceDim),
      );
    },
    get memoryBytes() {
      return exports.memory.buffer.byteLength;
    },
  };
}
