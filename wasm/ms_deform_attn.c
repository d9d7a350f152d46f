// Multi-scale deformable attention on the CPU (WebAssembly + SIMD128), two entry points:
//   msda_core : locations + weights given; mirrors ms_deform_attn_core_pytorch
//               (F.grid_sample(value_l, 2*loc-1, bilinear, zeros, align_corners=False), weighted sum).
//   msda_fused: reference points + raw offsets + raw logits (MSDeformAttn.forward): locations and the
//               softmax over L*P, then the same sampling, in one pass per (batch, query, head).
// Layouts (row-major f32, pointers into this module's memory): value [N, S, M, D] (levels concatenated
//   level-major, S = sum H_l*W_l); locations / offsets [N, Lq, M, L, P, 2] as (x, y); weights / logits
//   [N, Lq, M, L, P]; reference [N, Lq, L, R] as (x, y) or (cx, cy, w, h); levels [L, 2] int32 (H, W);
//   output [N, Lq, M*D] (m*D + c), overwritten.
// Precision: per-sample arithmetic (softmax, locations, pixel coordinates, bilinear fractions) in
//   float64 like the float64 TypeScript reference (src/kernels/ms-deform-attn-reference.ts, the spec);
//   the per-channel weighted sum in float32, four channels per SIMD lane group.
// Built by scripts/build-wasm.mjs (clang --target=wasm32 -O3 -msimd128, no libc, no imports).
#include <wasm_simd128.h>

// No libc, so exp is ours: a call into the host per sample cost more than the sampling at D = 16.
// exp(x) = 2^k * exp(r), x = k ln2 + r, |r| <= ln2 / 2, exp(r) by its Taylor series to r^13 / 13!
// (truncation < 3e-17 relative); x <= 0 here (max-subtracted logits), and x < -708 gives 0 as exp
// underflows to (a softmax weight that small is 0 in float32 anyway).
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
#define MAX_SAMPLES 128  // MAX_LEVELS * 16 points

typedef struct {
  int height, width, start;
} Level;

static int read_levels(const int *shapes, int level_count, Level *levels) {
  int start = 0;
  for (int l = 0; l < level_count; l++) {
    levels[l].height = shapes[2 * l];
    levels[l].width = shapes[2 * l + 1];
    levels[l].start = start;
    start += levels[l].height * levels[l].width;
  }
  return start;  // S
}

// out[0..D) += scale * row[0..D)
static inline void axpy(float *out, const float *row, float scale, int head_dim) {
  int c = 0;
  v128_t s = wasm_f32x4_splat(scale);
  for (; c + 4 <= head_dim; c += 4) {
    v128_t acc = wasm_v128_load(out + c);
    wasm_v128_store(out + c, wasm_f32x4_add(acc, wasm_f32x4_mul(s, wasm_v128_load(row + c))));
  }
  for (; c < head_dim; c++) out[c] += scale * row[c];
}

// out[0..D) += the four corners' weighted rows, in corner order (the order axpy would add them), one pass over out.
static inline void axpy4(float *out, const float *r0, const float *r1, const float *r2, const float *r3, float s0,
                         float s1, float s2, float s3, int head_dim) {
  int c = 0;
  v128_t v0 = wasm_f32x4_splat(s0), v1 = wasm_f32x4_splat(s1), v2 = wasm_f32x4_splat(s2), v3 = wasm_f32x4_splat(s3);
  for (; c + 4 <= head_dim; c += 4) {
    v128_t acc = wasm_v128_load(out + c);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v0, wasm_v128_load(r0 + c)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v1, wasm_v128_load(r1 + c)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v2, wasm_v128_load(r2 + c)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v3, wasm_v128_load(r3 + c)));
    wasm_v128_store(out + c, acc);
  }
  for (; c < head_dim; c++) out[c] = (((out[c] + s0 * r0[c]) + s1 * r1[c]) + s2 * r2[c]) + s3 * r3[c];
}

// One (batch, query, head) group: samples [L*P] of pixel-space (w, h) and attention -> out [D].
static void sample_group(const float *value_head, int row_stride, const Level *levels, int level_count, int points,
                         const double *pixel, const double *attention, int head_dim, float *out) {
  for (int c = 0; c < head_dim; c++) out[c] = 0.0f;
  for (int l = 0; l < level_count; l++) {
    const int height = levels[l].height, width = levels[l].width;
    const float *level_value = value_head + (long)levels[l].start * row_stride;
    for (int p = 0; p < points; p++) {
      const int s = l * points + p;
      const double w = pixel[2 * s], h = pixel[2 * s + 1];
      if (!(h > -1.0 && w > -1.0 && h < height && w < width)) continue;
      const double a = attention[s];
      const int h0 = (int)__builtin_floor(h), w0 = (int)__builtin_floor(w);
      const double lh = h - h0, lw = w - w0;
      if (h0 >= 0 && w0 >= 0 && h0 + 1 < height && w0 + 1 < width) {  // all four corners inside: one pass
        const float *top = level_value + (long)(h0 * width + w0) * row_stride;
        const float *bottom = top + (long)width * row_stride;
        axpy4(out, top, top + row_stride, bottom, bottom + row_stride, (float)(a * (1.0 - lh) * (1.0 - lw)),
              (float)(a * (1.0 - lh) * lw), (float)(a * lh * (1.0 - lw)), (float)(a * lh * lw), head_dim);
        continue;
      }
      for (int corner = 0; corner < 4; corner++) {
        const int dy = corner >> 1, dx = corner & 1;
        const int ch = h0 + dy, cw = w0 + dx;
        if (ch < 0 || cw < 0 || ch >= height || cw >= width) continue;  // zero padding
        const float scale = (float)(a * (dy ? lh : 1.0 - lh) * (dx ? lw : 1.0 - lw));
        axpy(out, level_value + (long)(ch * width + cw) * row_stride, scale, head_dim);
      }
    }
  }
}

__attribute__((export_name("msda_core"))) int msda_core(const float *value, const float *locations,
                                                        const float *weights, float *output, int batch, int queries,
                                                        int heads, int head_dim, const int *shapes, int level_count,
                                                        int points) {
  if (level_count < 1 || level_count > MAX_LEVELS || points < 1 || level_count * points > MAX_SAMPLES) return -1;
  Level levels[MAX_LEVELS];
  const int tokens = read_levels(shapes, level_count, levels);
  const int samples = level_count * points, row_stride = heads * head_dim;
  double pixel[2 * MAX_SAMPLES], attention[MAX_SAMPLES];
  for (long group = 0; group < (long)batch * queries * heads; group++) {
    const long n = group / ((long)queries * heads);
    const int m = (int)(group % heads);
    const float *loc = locations + group * samples * 2;
    for (int s = 0; s < samples; s++) {
      const Level *level = &levels[s / points];
      pixel[2 * s] = (double)loc[2 * s] * level->width - 0.5;  // grid_sample, align_corners=False
      pixel[2 * s + 1] = (double)loc[2 * s + 1] * level->height - 0.5;
      attention[s] = weights[group * samples + s];
    }
    sample_group(value + n * tokens * row_stride + m * head_dim, row_stride, levels, level_count, points, pixel,
                 attention, head_dim, output + group * head_dim);
  }
  return 0;
}

__attribute__((export_name("msda_fused"))) int msda_fused(const float *value, const float *reference,
                                                          const float *offsets, const float *logits, float *output,
                                                          int batch, int queries, int heads, int head_dim,
                                                          const int *shapes, int level_count, int points,
                                                          int reference_dim) {
  if (level_count < 1 || level_count > MAX_LEVELS || points < 1 || level_count * points > MAX_SAMPLES) return -1;
  if (reference_dim != 2 && reference_dim != 4) return -1;
  Level levels[MAX_LEVELS];
  const int tokens = read_levels(shapes, level_count, levels);
  const int samples = level_count * points, row_stride = heads * head_dim;
  double pixel[2 * MAX_SAMPLES], attention[MAX_SAMPLES];
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
      const int l = s / points;
      const float *ref = reference + (query_row * level_count + l) * reference_dim;
      double x, y;
      if (reference_dim == 2) {
        x = (double)ref[0] + (double)offset[2 * s] / levels[l].width;
        y = (double)ref[1] + (double)offset[2 * s + 1] / levels[l].height;
      } else {
        x = (double)ref[0] + (double)offset[2 * s] / points * ref[2] * 0.5;
        y = (double)ref[1] + (double)offset[2 * s + 1] / points * ref[3] * 0.5;
      }
      pixel[2 * s] = x * levels[l].width - 0.5;
      pixel[2 * s + 1] = y * levels[l].height - 0.5;
    }
    sample_group(value + n * tokens * row_stride + m * head_dim, row_stride, levels, level_count, points, pixel,
                 attention, head_dim, output + group * head_dim);
  }
  return 0;
}
