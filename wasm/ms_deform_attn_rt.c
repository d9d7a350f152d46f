// Multi-scale deformable attention as the RT-DETR family computes it, on the CPU (WebAssembly + SIMD128);
// the twin of shaders/ms_deform_attn_rt.wgsl, two entry points:
//   msdart_core : locations + weights given.
//   msdart_fused: reference points + raw offsets + raw logits: softmax over a head's samples, locations,
//                 sampling, weighted sum, in one pass per (batch, query, head).
// Family specifics: per-level point counts P_l (samples level-major, S_P = sum P_l); boxes (R = 4) give
//   loc = ref_xy + offset / P_l * ref_wh * offset_scale; the reference may be shared by all levels
//   (reference_levels = 1); discrete = 1 is RT-DETRv2's method='discrete': pixel trunc(loc * (W, H) + 0.5)
//   clamped to [0, H - 1] on both axes as the official code does (then to W - 1 on x), times the attention.
// Layouts (row-major f32, pointers into this module's memory): value [N, S, M, D]; locations / offsets
//   [N, Lq, M, S_P, 2] as (x, y); weights / logits [N, Lq, M, S_P]; reference [N, Lq, L or 1, R];
//   levels [L, 3] int32 (H, W, P_l); output [N, Lq, M*D], overwritten.
// Precision: per-sample arithmetic in float64 like the float64 TypeScript reference
//   (src/kernels/ms-deform-attn-rt-reference.ts, the spec); channel sums in float32, SIMD by 4.
// Built by scripts/build-wasm.mjs (clang --target=wasm32 -O3 -msimd128, no libc, no imports).
#include <wasm_simd128.h>

// exp for x <= 0 (max-subtracted logits): 2^k * Taylor(r) to r^13, as in ms_deform_attn.c.
static double exp_nonpositive(double x) {
  if (x < -708.0) return 0.0;
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const double k = __builtin_floor(x * 1.44269504088896338700 + 0.5);
  const double r = (x - k * ln2_hi) - k * ln2_lo;
  double term = 1.0, sum = 1.0;
  for (int n = 1; n <= 13; n++) {
    term *= r / n;
    sum += term;
  }
  union {
    double d;
    unsigned long long u;
  } scale = {.u = (unsigned long long)((long long)k + 1023) << 52};
  return sum * scale.d;
}

#define MAX_LEVELS 8
#define MAX_SAMPLES 128

typedef struct {
  int height, width, start, points;
} Level;

// Reads the level table; returns S (value tokens), or -1 if a count is invalid. Fills level_of[S_P].
static int read_levels(const int *table, int level_count, Level *levels, int *samples, int *level_of) {
  int start = 0, s = 0;
  for (int l = 0; l < level_count; l++) {
    levels[l].height = table[3 * l];
    levels[l].width = table[3 * l + 1];
    levels[l].points = table[3 * l + 2];
    levels[l].start = start;
    if (levels[l].points < 1 || s + levels[l].points > MAX_SAMPLES) return -1;
    for (int p = 0; p < levels[l].points; p++) level_of[s++] = l;
    start += levels[l].height * levels[l].width;
  }
  *samples = s;
  return start;
}

static inline void axpy(float *out, const float *row, float scale, int head_dim) {
  int c = 0;
  v128_t s = wasm_f32x4_splat(scale);
  for (; c + 4 <= head_dim; c += 4) {
    v128_t acc = wasm_v128_load(out + c);
    wasm_v128_store(out + c, wasm_f32x4_add(acc, wasm_f32x4_mul(s, wasm_v128_load(row + c))));
  }
  for (; c < head_dim; c++) out[c] += scale * row[c];
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// One (batch, query, head) group: samples [S_P] of normalized (x, y) and attention -> out [D].
static void sample_group(const float *value_head, int row_stride, const Level *levels, const int *level_of,
                         int samples, int discrete, const double *loc, const double *attention, int head_dim,
                         float *out) {
  for (int c = 0; c < head_dim; c++) out[c] = 0.0f;
  for (int s = 0; s < samples; s++) {
    const Level *level = &levels[level_of[s]];
    const int height = level->height, width = level->width;
    const float *level_value = value_head + (long)level->start * row_stride;
    const double a = attention[s];
    double x = loc[2 * s], y = loc[2 * s + 1];
    // Far-out locations land outside the map either way; the clamp keeps the int conversion defined.
    x = x < -2.0 ? -2.0 : (x > 3.0 ? 3.0 : x);
    y = y < -2.0 ? -2.0 : (y > 3.0 ? 3.0 : y);
    if (discrete) {
      const int cx = clampi(clampi((int)__builtin_floor(x * width + 0.5), 0, height - 1), 0, width - 1);
      const int cy = clampi((int)__builtin_floor(y * height + 0.5), 0, height - 1);
      axpy(out, level_value + (long)(cy * width + cx) * row_stride, (float)a, head_dim);
      continue;
    }
    const double w = x * width - 0.5, h = y * height - 0.5;  // grid_sample, align_corners=False
    if (!(h > -1.0 && w > -1.0 && h < height && w < width)) continue;
    const int h0 = (int)__builtin_floor(h), w0 = (int)__builtin_floor(w);
    const double lh = h - h0, lw = w - w0;
    for (int corner = 0; corner < 4; corner++) {
      const int dy = corner >> 1, dx = corner & 1;
      const int ch = h0 + dy, cw = w0 + dx;
      if (ch < 0 || cw < 0 || ch >= height || cw >= width) continue;  // zero padding
      const float scale = (float)(a * (dy ? lh : 1.0 - lh) * (dx ? lw : 1.0 - lw));
      axpy(out, level_value + (long)(ch * width + cw) * row_stride, scale, head_dim);
    }
  }
}

__attribute__((export_name("msdart_core"))) int msdart_core(const float *value, const float *locations,
                                                            const float *weights, float *output, int batch,
                                                            int queries, int heads, int head_dim, const int *table,
                                                            int level_count, int discrete) {
  if (level_count < 1 || level_count > MAX_LEVELS) return -1;
  Level levels[MAX_LEVELS];
  int level_of[MAX_SAMPLES], samples;
  const int tokens = read_levels(table, level_count, levels, &samples, level_of);
  if (tokens < 0) return -1;
  const int row_stride = heads * head_dim;
  double loc[2 * MAX_SAMPLES], attention[MAX_SAMPLES];
  for (long group = 0; group < (long)batch * queries * heads; group++) {
    const long n = group / ((long)queries * heads);
    const int m = (int)(group % heads);
    for (int s = 0; s < samples; s++) {
      loc[2 * s] = locations[(group * samples + s) * 2];
      loc[2 * s + 1] = locations[(group * samples + s) * 2 + 1];
      attention[s] = weights[group * samples + s];
    }
    sample_group(value + n * tokens * row_stride + m * head_dim, row_stride, levels, level_of, samples, discrete,
                 loc, attention, head_dim, output + group * head_dim);
  }
  return 0;
}

__attribute__((export_name("msdart_fused"))) int msdart_fused(const float *value, const float *reference,
                                                              const float *offsets, const float *logits,
                                                              float *output, int batch, int queries, int heads,
                                                              int head_dim, const int *table, int level_count,
                                                              int discrete, int reference_dim,
                                                              int reference_levels, double offset_scale) {
  if (level_count < 1 || level_count > MAX_LEVELS) return -1;
  if (reference_dim != 2 && reference_dim != 4) return -1;
  if (reference_levels != 1 && reference_levels != level_count) return -1;
  Level levels[MAX_LEVELS];
  int level_of[MAX_SAMPLES], samples;
  const int tokens = read_levels(table, level_count, levels, &samples, level_of);
  if (tokens < 0) return -1;
  const int row_stride = heads * head_dim;
  double loc[2 * MAX_SAMPLES], attention[MAX_SAMPLES];
  for (long group = 0; group < (long)batch * queries * heads; group++) {
    const long n = group / ((long)queries * heads);
    const long query_row = group / heads;  // n * Lq + q
    const int m = (int)(group % heads);
    const float *logit = logits + group * samples;
    const float *offset = offsets + group * samples * 2;
    double max = logit[0], sum = 0.0;
    for (int s = 1; s < samples; s++) max = logit[s] > max ? logit[s] : max;
    for (int s = 0; s < samples; s++) sum += attention[s] = exp_nonpositive((double)logit[s] - max);
    for (int s = 0; s < samples; s++) {
      attention[s] /= sum;
      const int l = level_of[s];
      const float *ref = reference + (query_row * reference_levels + (reference_levels == 1 ? 0 : l)) * reference_dim;
      if (reference_dim == 2) {
        loc[2 * s] = (double)ref[0] + (double)offset[2 * s] / levels[l].width;
        loc[2 * s + 1] = (double)ref[1] + (double)offset[2 * s + 1] / levels[l].height;
      } else {
        loc[2 * s] = (double)ref[0] + (double)offset[2 * s] / levels[l].points * ref[2] * offset_scale;
        loc[2 * s + 1] = (double)ref[1] + (double)offset[2 * s + 1] / levels[l].points * ref[3] * offset_scale;
      }
    }
    sample_group(value + n * tokens * row_stride + m * head_dim, row_stride, levels, level_of, samples, discrete,
                 loc, attention, head_dim, output + group * head_dim);
  }
  return 0;
}
