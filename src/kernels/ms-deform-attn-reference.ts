/**
 * Plain TypeScript reference of multi-scale deformable attention in float64: the same formula as
 * the PyTorch reference (grid_sample bilinear, zeros padding, align_corners=False). Used by tests,
 * by the Node parity runner between ONNX graphs, and as the CPU path's kernel. Inputs may be
 * Float32Array (what the GPU sees) or Float64Array.
 */
import { InputError } from '../errors.js';
import { levelStarts, tensorSizes, validateShape, valueTokens, type MsDeformAttnShape, type ReferenceDim } from './ms-deform-attn-shape.js';

type Floats = Float32Array | Float64Array;

function checkLength(name: string, array: Floats, expected: number): void {
  if (array.length !== expected) throw new InputError(`msDeformAttn reference: ${name} has ${array.length} values, expected ${expected}`);
}

/** value [N,S,M,D], locations [N,Lq,M,L,P,2], weights [N,Lq,M,L,P] -> [N,Lq,M*D]. */
export function msDeformAttnCoreReference(
  value: Floats,
  samplingLocations: Floats,
  attentionWeights: Floats,
  shape: MsDeformAttnShape,
): Float64Array {
  validateShape(shape);
  const sizes = tensorSizes(shape);
  checkLength('value', value, sizes.value);
  checkLength('samplingLocations', samplingLocations, sizes.samplingLocations);
  checkLength('attentionWeights', attentionWeights, sizes.attentionWeights);
  return sampleAll(value, samplingLocations, attentionWeights, shape);
}

/**
 * value [N,S,M,D], reference points [N,Lq,L,R], raw offsets [N,Lq,M,L,P,2], raw logits [N,Lq,M,L*P]
 * -> [N,Lq,M*D]: locations and softmax as MSDeformAttn.forward computes them (float64), then the core.
 */
export function msDeformAttnFusedReference(
  value: Floats,
  referencePoints: Floats,
  samplingOffsets: Floats,
  attentionLogits: Floats,
  shape: MsDeformAttnShape & { referenceDim: ReferenceDim },
): Float64Array {
  validateShape(shape, shape.referenceDim);
  const r = shape.referenceDim;
  const sizes = tensorSizes(shape, r);
  checkLength('value', value, sizes.value);
  checkLength('referencePoints', referencePoints, sizes.referencePoints);
  checkLength('samplingOffsets', samplingOffsets, sizes.samplingOffsets);
  checkLength('attentionLogits', attentionLogits, sizes.attentionLogits);
  const { heads, points } = shape;
  const levelCount = shape.levels.length;
  const samples = levelCount * points;
  const locations = new Float64Array(sizes.samplingLocations);
  const weights = new Float64Array(sizes.attentionWeights);
  for (let group = 0; group < sizes.attentionWeights / samples; group++) {
    const first = group * samples;
    let max = -Infinity;
    for (let s = 0; s < samples; s++) max = Math.max(max, attentionLogits[first + s]!);
    let sum = 0;
    for (let s = 0; s < samples; s++) sum += weights[first + s] = Math.exp(attentionLogits[first + s]! - max);
    const queryRow = Math.floor(group / heads);
    for (let s = 0; s < samples; s++) {
      weights[first + s] = weights[first + s]! / sum;
      const level = Math.floor(s / points);
      const ref = (queryRow * levelCount + level) * r;
      const i = 2 * (first + s);
      const [height, width] = shape.levels[level]!;
      if (r === 2) {
        locations[i] = referencePoints[ref]! + samplingOffsets[i]! / width;
        locations[i + 1] = referencePoints[ref + 1]! + samplingOffsets[i + 1]! / height;
      } else {
        locations[i] = referencePoints[ref]! + (samplingOffsets[i]! / points) * referencePoints[ref + 2]! * 0.5;
        locations[i + 1] = referencePoints[ref + 1]! + (samplingOffsets[i + 1]! / points) * referencePoints[ref + 3]! * 0.5;
      }
    }
  }
  return sampleAll(value, locations, weights, shape);
}

/** The core formula over every (batch, query, head) group = (n*Lq + q)*M + m. */
function sampleAll(value: Floats, locations: Floats, weights: Floats, shape: MsDeformAttnShape): Float64Array {
  const { batch, queries, heads, headDim, points } = shape;
  const tokens = valueTokens(shape);
  const starts = levelStarts(shape);
  const samples = shape.levels.length * points;
  const rowStride = heads * headDim;
  const out = new Float64Array(batch * queries * rowStride);
  for (let group = 0; group < batch * queries * heads; group++) {
    const n = Math.floor(group / (heads * queries));
    const base = n * tokens * rowStride + (group % heads) * headDim;
    const outBase = group * headDim;
    for (let sample = 0; sample < samples; sample++) {
      const level = Math.floor(sample / points);
      const [height, width] = shape.levels[level]!;
      const flat = group * samples + sample;
      // grid_sample, align_corners=False: pixel = loc * size - 0.5.
      const w = locations[2 * flat]! * width - 0.5;
      const h = locations[2 * flat + 1]! * height - 0.5;
      if (!(h > -1 && w > -1 && h < height && w < width)) continue;
      const attention = weights[flat]!;
      const h0 = Math.floor(h);
      const w0 = Math.floor(w);
      const lh = h - h0;
      const lw = w - w0;
      for (let corner = 0; corner < 4; corner++) {
        const dy = corner >> 1;
        const dx = corner & 1;
        const ch = h0 + dy;
        const cw = w0 + dx;
        if (ch < 0 || cw < 0 || ch >= height || cw >= width) continue; // zero padding
        const scale = attention * (dy ? lh : 1 - lh) * (dx ? lw : 1 - lw);
        const offset = base + (starts[level]! + ch * width + cw) * rowStride;
        for (let c = 0; c < headDim; c++) out[outBase + c]! += scale * value[offset + c]!;
      }
    }
  }
  return out;
}
