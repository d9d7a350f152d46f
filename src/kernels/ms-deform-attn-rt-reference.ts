/**
 * Float64 TypeScript reference of the RT-DETR family's deformable attention (the spec the WGSL and WASM
 * kernels are tested against): RT-DETR v1 / v2 MSDeformableAttention.forward and
 * deformable_attention_core_func_v2, with per-level point counts, 'default' (grid_sample bilinear, zeros,
 * align_corners=False) or 'discrete' sampling, box offsets scaled by offsetScale and an optionally shared
 * reference row. Inputs may be Float32Array (what the kernels see) or Float64Array.
 */
import { InputError } from '../errors.js';
import {
  type MsDeformAttnRtFusedShape,
  type MsDeformAttnRtShape,
  pointsPerLevel,
  rtTensorSizes,
  rtValueTokens,
  samplesPerHead,
  validateRtShape,
} from './ms-deform-attn-rt-shape.js';

type Floats = Float32Array | Float64Array;

function checkLength(name: string, array: Floats, expected: number): void {
  if (array.length !== expected) throw new InputError(`msDeformAttnRt reference: ${name} has ${array.length} values, expected ${expected}`);
}

/** Level of each sample of a head (level-major). */
function sampleLevels(shape: MsDeformAttnRtShape): number[] {
  return pointsPerLevel(shape).flatMap((p, level) => Array.from({ length: p }, () => level));
}

/** value [N,S,M,D], locations [N,Lq,M,S_P,2], weights [N,Lq,M,S_P] -> [N,Lq,M*D]. */
export function msDeformAttnRtCoreReference(
  value: Floats,
  samplingLocations: Floats,
  attentionWeights: Floats,
  shape: MsDeformAttnRtShape,
): Float64Array {
  validateRtShape(shape);
  const sizes = rtTensorSizes(shape);
  checkLength('value', value, sizes.value);
  checkLength('samplingLocations', samplingLocations, sizes.samplingLocations);
  checkLength('attentionWeights', attentionWeights, sizes.attentionWeights);
  return sampleAll(value, samplingLocations, attentionWeights, shape);
}

/**
 * value [N,S,M,D], reference [N,Lq,L or 1,R], raw offsets [N,Lq,M,S_P,2], raw logits [N,Lq,M,S_P] -> [N,Lq,M*D]:
 * softmax over S_P and the locations (R = 2: ref + offset / (W_l, H_l); R = 4: ref_xy + offset / P_l * ref_wh
 * * offsetScale) in float64, then the core.
 */
export function msDeformAttnRtFusedReference(
  value: Floats,
  referencePoints: Floats,
  samplingOffsets: Floats,
  attentionLogits: Floats,
  shape: MsDeformAttnRtFusedShape,
): Float64Array {
  validateRtShape(shape, shape);
  const r = shape.referenceDim;
  const shared = shape.sharedReference ?? false;
  const scale = shape.offsetScale ?? 0.5;
  const sizes = rtTensorSizes(shape, r, shared);
  checkLength('value', value, sizes.value);
  checkLength('referencePoints', referencePoints, sizes.referencePoints);
  checkLength('samplingOffsets', samplingOffsets, sizes.samplingOffsets);
  checkLength('attentionLogits', attentionLogits, sizes.attentionLogits);
  const samples = samplesPerHead(shape);
  const levelOf = sampleLevels(shape);
  const points = pointsPerLevel(shape);
  const referenceRows = shared ? 1 : shape.levels.length;
  const locations = new Float64Array(sizes.samplingLocations);
  const weights = new Float64Array(sizes.attentionWeights);
  for (let group = 0; group < sizes.attentionWeights / samples; group++) {
    const first = group * samples;
    let max = -Infinity;
    for (let s = 0; s < samples; s++) max = Math.max(max, attentionLogits[first + s]!);
    let sum = 0;
    for (let s = 0; s < samples; s++) sum += weights[first + s] = Math.exp(attentionLogits[first + s]! - max);
    const queryRow = Math.floor(group / shape.heads);
    for (let s = 0; s < samples; s++) {
      weights[first + s] = weights[first + s]! / sum;
      const level = levelOf[s]!;
      const ref = (queryRow * referenceRows + (shared ? 0 : level)) * r;
      const i = 2 * (first + s);
      const [height, width] = shape.levels[level]!;
      if (r === 2) {
        locations[i] = referencePoints[ref]! + samplingOffsets[i]! / width;
        locations[i + 1] = referencePoints[ref + 1]! + samplingOffsets[i + 1]! / height;
      } else {
        const p = points[level]!;
        locations[i] = referencePoints[ref]! + (samplingOffsets[i]! / p) * referencePoints[ref + 2]! * scale;
        locations[i + 1] = referencePoints[ref + 1]! + (samplingOffsets[i + 1]! / p) * referencePoints[ref + 3]! * scale;
      }
    }
  }
  return sampleAll(value, locations, weights, shape);
}

/** The core formula over every (batch, query, head) group = (n*Lq + q)*M + m. */
function sampleAll(value: Floats, locations: Floats, weights: Floats, shape: MsDeformAttnRtShape): Float64Array {
  const { batch, queries, heads, headDim } = shape;
  const discrete = shape.method === 'discrete';
  const tokens = rtValueTokens(shape);
  const starts: number[] = [];
  shape.levels.reduce((start, [h, w]) => {
    starts.push(start);
    return start + h * w;
  }, 0);
  const levelOf = sampleLevels(shape);
  const samples = levelOf.length;
  const rowStride = heads * headDim;
  const out = new Float64Array(batch * queries * rowStride);
  const accumulate = (outBase: number, offset: number, scale: number) => {
    for (let c = 0; c < headDim; c++) out[outBase + c]! += scale * value[offset + c]!;
  };
  for (let group = 0; group < batch * queries * heads; group++) {
    const n = Math.floor(group / (heads * queries));
    const base = n * tokens * rowStride + (group % heads) * headDim;
    const outBase = group * headDim;
    for (let sample = 0; sample < samples; sample++) {
      const level = levelOf[sample]!;
      const [height, width] = shape.levels[level]!;
      const flat = group * samples + sample;
      const attention = weights[flat]!;
      const x = locations[2 * flat]!;
      const y = locations[2 * flat + 1]!;
      if (discrete) {
        // (loc * (W, H) + 0.5).to(int64) truncates; after clamping to [0, H-1] that equals floor. The official
        // code clamps x to H - 1 too (square inputs); where that still indexes past the row we clamp to W - 1.
        const cx = Math.min(Math.min(Math.max(Math.floor(x * width + 0.5), 0), height - 1), width - 1);
        const cy = Math.min(Math.max(Math.floor(y * height + 0.5), 0), height - 1);
        accumulate(outBase, base + (starts[level]! + cy * width + cx) * rowStride, attention);
        continue;
      }
      // grid_sample, align_corners=False: pixel = loc * size - 0.5.
      const w = x * width - 0.5;
      const h = y * height - 0.5;
      if (!(h > -1 && w > -1 && h < height && w < width)) continue;
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
        accumulate(outBase, base + (starts[level]! + ch * width + cw) * rowStride, scale);
      }
    }
  }
  return out;
}
