/**
 * Counter-based lowbias32 hash -> float32 uniform in [0, 1) with 24 random bits. Identical to
 * hash_uniform in tools/fixtures/ms_deform_attn.py, so full-size inputs need not be stored.
 */
export function hashUniform(count: number, seed: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count);
  const offset = Math.imul(seed, 0x9e3779b9) >>> 0;
  for (let i = 0; i < count; i++) {
    let x = (i + offset) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    out[i] = (x >>> 8) / 16777216;
  }
  return out;
}
