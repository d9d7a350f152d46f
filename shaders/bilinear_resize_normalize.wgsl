// Image preprocessing in one pass: RGBA8 texture -> resized, mean/std-normalized CHW float32.
// Mirrors torch.nn.functional.interpolate(x, size=(out_h, out_w), mode='bilinear',
//   align_corners=False, antialias=MODE == 1) on x = rgb / 255, followed by (x - mean) / std;
//   MODE 2 mirrors PIL's Image.resize((out_w, out_h), BILINEAR) on the uint8 pixels instead.
// Bindings: 0 params (uniform), 1 source texture_2d<f32> (rgba8unorm, read with textureLoad, alpha
//   ignored; its size is the input size), 2 output array<f32> [3, out_h, out_w] (c*H*W + y*W + x).
// Thread mapping: one invocation per output pixel (all 3 channels), 8x8 workgroups.
// Exact index math: with s = in / out, output pixel i has centre c = s*(i + 0.5) in input
//   coordinates. Every distance an axis needs is an integer over 2*out, so we work in integers:
//   plain:     src = max(c - 0.5, 0) = max(in*(2i+1) - out, 0) / (2*out); i0 = floor(src),
//              i1 = min(i0 + 1, in - 1), lambda = src - i0 (torch's area_pixel_compute_source_index).
//   antialias: triangle filter of half-width max(s, 1) (torch _compute_weights_aa, PIL's bilinear
//              filter), pixel j weighs max(0, D - |d_j|) with d_j = (2j+1)*out - (2i+1)*in and
//              D = 2*max(in, out), renormalized over the in-image pixels (torch divides by total_w).
//   pil:       Pillow's Image.resize(BILINEAR) on uint8 (Resample.c, 8-bit path): the antialias
//              weights as 22-bit fixed point k_j = round(2^22 * n_j / N) (exact, by long division),
//              a horizontal pass rounded to uint8, then a vertical pass rounded to uint8.
//   The window loops over every pixel of non-zero weight, so any downscale factor works; the
//   wrapper bounds the factor (MAX_ANTIALIAS_DOWNSCALE) to bound one invocation's work.
// Filters: linear_taps, filter_window, pil_coefficient and resize_* live in bilinear_filters.wgsl,
//   which the wrapper prepends (src/kernels/bilinear-gpu.ts).
struct Params {
  out_size: vec2<u32>,
  pad: vec2<u32>,
  mean: vec4<f32>,
  std_dev: vec4<f32>,
}

// 0 = bilinear, 1 = antialias (torch), 2 = pil (Pillow uint8 fixed point).
override MODE: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var source: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let out_size = params.out_size;
  if (id.x >= out_size.x || id.y >= out_size.y) {
    return;
  }
  let origin = vec2<i32>(0, 0);
  let in_size = vec2<i32>(textureDimensions(source));
  let out_xy = vec2<i32>(id.xy);
  var rgb: vec3<f32>;
  switch MODE {
    case 1u: { rgb = resize_antialias(origin, out_xy, in_size, vec2<i32>(out_size)); }
    case 2u: { rgb = resize_pil(origin, out_xy, in_size, vec2<i32>(out_size)); }
    default: { rgb = resize_plain(origin, out_xy, in_size, vec2<i32>(out_size)); }
  }
  let normalized = (rgb - params.mean.xyz) / params.std_dev.xyz;
  let plane = out_size.x * out_size.y;
  let index = id.y * out_size.x + id.x;
  output[index] = normalized.x;
  output[plane + index] = normalized.y;
  output[2u * plane + index] = normalized.z;
}
