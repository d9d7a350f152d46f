/**
 * Deterministic benchmark inputs that look like Deformable-DETR's: encoder queries sit on their
 * pixel centres (2-d reference points, valid ratio 1), decoder queries carry boxes (4-d); offsets
 * of a few level pixels (box fractions for boxes), logits of order 1. The core inputs (locations,
 * softmaxed weights) are derived from the fused ones with the MSDeformAttn.forward formulas, so both
 * kernels compute the same output.
 */
import type { BenchCase } from './bench-case.js';

export interface BenchInputs {
  value: Float32Array<ArrayBuffer>;
  referencePoints: Float32Array<ArrayBuffer>;
  samplingOffsets: Float32Array<ArrayBuffer>;
  attentionLogits: Float32Array<ArrayBuffer>;
  samplingLocations: Float32Array<ArrayBuffer>;
  attentionWeights: Float32Array<ArrayBuffer>;
}

/** mulberry32: small, fast, seeded. */
function uniformSource(seed: number) {
  let a = seed >>> 0;
  return (low: number, high: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return low + (high - low) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  };
}

export function makeInputs(c: BenchCase, seed = 1234): BenchInputs {
  const uniform = uniformSource(seed);
  const { batch: n, queries: lq, heads: m, points: p, referenceDim: r } = c;
  const l = c.levels.length;
  const value = Float32Array.from({ length: n * c.tokens * m * c.headDim }, () => uniform(-1, 1));

  const referencePoints = new Float32Array(n * lq * l * r);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < lq; q++) {
      const ref = r === 2 ? pixelCentre(c, q) : [uniform(0.05, 0.95), uniform(0.05, 0.95), uniform(0.02, 0.6), uniform(0.02, 0.6)];
      for (let lvl = 0; lvl < l; lvl++) referencePoints.set(ref, ((b * lq + q) * l + lvl) * r);
    }
  }
  const samplingOffsets = Float32Array.from({ length: n * lq * m * l * p * 2 }, () => uniform(-4, 4));
  const attentionLogits = Float32Array.from({ length: n * lq * m * l * p }, () => uniform(-2, 2));

  const samplingLocations = new Float32Array(samplingOffsets.length);
  const attentionWeights = new Float32Array(attentionLogits.length);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < lq; q++) {
      for (let h = 0; h < m; h++) {
        const group = (b * lq + q) * m + h;
        softmaxInto(attentionLogits, attentionWeights, group * l * p, l * p);
        for (let lvl = 0; lvl < l; lvl++) {
          const [height, width] = c.levels[lvl] ?? [1, 1];
          const refAt = ((b * lq + q) * l + lvl) * r;
          for (let pt = 0; pt < p; pt++) {
            const at = ((group * l + lvl) * p + pt) * 2;
            const dx = samplingOffsets[at] ?? 0;
            const dy = samplingOffsets[at + 1] ?? 0;
            const rx = referencePoints[refAt] ?? 0;
            const ry = referencePoints[refAt + 1] ?? 0;
            if (r === 2) {
              samplingLocations[at] = rx + dx / width;
              samplingLocations[at + 1] = ry + dy / height;
            } else {
              samplingLocations[at] = rx + (dx / p) * (referencePoints[refAt + 2] ?? 0) * 0.5;
              samplingLocations[at + 1] = ry + (dy / p) * (referencePoints[refAt + 3] ?? 0) * 0.5;
            }
          }
        }
      }
    }
  }
  return { value, referencePoints, samplingOffsets, attentionLogits, samplingLocations, attentionWeights };
}

/** Normalized centre of value token `t` (encoder query t is value token t). */
function pixelCentre(c: BenchCase, t: number): number[] {
  let start = 0;
  for (const [h, w] of c.levels) {
    if (t < start + h * w) {
      const i = Math.floor((t - start) / w);
      const j = (t - start) % w;
      return [(j + 0.5) / w, (i + 0.5) / h];
    }
    start += h * w;
  }
  throw new RangeError(`token ${t} is outside the ${start} value tokens`);
}

function softmaxInto(source: Float32Array, target: Float32Array, offset: number, length: number) {
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, source[offset + i] ?? 0);
  let sum = 0;
  for (let i = 0; i < length; i++) sum += Math.exp((source[offset + i] ?? 0) - max);
  for (let i = 0; i < length; i++) target[offset + i] = Math.exp((source[offset + i] ?? 0) - max) / sum;
}
