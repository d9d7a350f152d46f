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
struct Params {
  out_size: vec2<u32>,
  pad: vec2<u32>,
  mean: vec4<f32>,
  std_dev: vec4<f32>,
}

// 0 = bilinear, 1 = antialias (torch), 2 = pil (Pillow uint8 fixed point).
override MODE: u32 = 0u;
const PIL_PRECISION_BITS = 22u;
// Taps per axis: at most 2*s + 2 for a downscale s <= MAX_ANTIALIAS_DOWNSCALE (64, the wrapper's).
const MAX_TAPS = 130u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var source: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// Plain bilinear along one axis: (i0, i1) and the weight of i1.
struct LinearTaps { i0: i32, i1: i32, lambda: f32 }

fn linear_taps(i: i32, in_size: i32, out_size: i32) -> LinearTaps {
  let numerator = max(in_size * (2 * i + 1) - out_size, 0);
  let denominator = 2 * out_size;
  let i0 = numerator / denominator;
  let rest = numerator - i0 * denominator;
  return LinearTaps(i0, min(i0 + 1, in_size - 1), f32(rest) / f32(denominator));
}

// Antialiased window along one axis: pixels [first, last] (conservative: weights clamp at 0).
struct FilterWindow { first: i32, last: i32, center2: i32, width2: i32, total: i32 }

fn filter_weight(window: FilterWindow, j: i32, out_size: i32) -> i32 {
  return max(window.width2 - abs((2 * j + 1) * out_size - window.center2), 0);
}

fn filter_window(i: i32, in_size: i32, out_size: i32) -> FilterWindow {
  let center2 = (2 * i + 1) * in_size; // 2 * out * centre
  let width2 = 2 * max(in_size, out_size); // 2 * out * half-width
  let first = max((center2 - width2 - out_size) / (2 * out_size), 0);
  let last = min((center2 + width2 - out_size) / (2 * out_size), in_size - 1);
  var window = FilterWindow(first, last, center2, width2, 0);
  for (var j = first; j <= last; j++) {
    window.total += filter_weight(window, j, out_size);
  }
  return window;
}

fn rgb_at(x: i32, y: i32) -> vec3<f32> {
  return textureLoad(source, vec2<i32>(x, y), 0).rgb;
}

fn resize_plain(out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
  let tx = linear_taps(out_xy.x, in_size.x, out_size.x);
  let ty = linear_taps(out_xy.y, in_size.y, out_size.y);
  let top = mix(rgb_at(tx.i0, ty.i0), rgb_at(tx.i1, ty.i0), tx.lambda);
  let bottom = mix(rgb_at(tx.i0, ty.i1), rgb_at(tx.i1, ty.i1), tx.lambda);
  return mix(top, bottom, ty.lambda);
}

fn resize_antialias(out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
  let wx = filter_window(out_xy.x, in_size.x, out_size.x);
  let wy = filter_window(out_xy.y, in_size.y, out_size.y);
  var sum = vec3<f32>(0.0);
  for (var y = wy.first; y <= wy.last; y++) {
    var row = vec3<f32>(0.0);
    for (var x = wx.first; x <= wx.last; x++) {
      row += f32(filter_weight(wx, x, out_size.x)) * rgb_at(x, y);
    }
    sum += f32(filter_weight(wy, y, out_size.y)) * row;
  }
  return sum / (f32(wx.total) * f32(wy.total));
}

// round(2^22 * n / total) exactly: long division in 8/8/6-bit steps keeps remainder << bits below
// 2^32 (total < 2^24 under the wrapper's limits); 2r == total cannot happen for total < 2^23.
fn pil_coefficient(n: i32, total: i32) -> u32 {
  let divisor = u32(total);
  var q = u32(n) / divisor;
  var r = u32(n) % divisor;
  for (var step = 0u; step < 3u; step++) {
    let bits = select(8u, 6u, step == 2u);
    let shifted = r << bits;
    q = (q << bits) + shifted / divisor;
    r = shifted % divisor;
  }
  return q + select(0u, 1u, 2u * r >= divisor);
}

fn clip8(sum: vec3<u32>) -> vec3<u32> {
  return min(sum >> vec3<u32>(PIL_PRECISION_BITS), vec3<u32>(255u));
}

fn resize_pil(out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
  let wx = filter_window(out_xy.x, in_size.x, out_size.x);
  let wy = filter_window(out_xy.y, in_size.y, out_size.y);
  var kx: array<u32, MAX_TAPS>; // row coefficients, computed once rather than once per row
  for (var x = wx.first; x <= wx.last; x++) {
    kx[x - wx.first] = pil_coefficient(filter_weight(wx, x, out_size.x), wx.total);
  }
  let half = vec3<u32>(1u << (PIL_PRECISION_BITS - 1u));
  var column = half;
  for (var y = wy.first; y <= wy.last; y++) {
    var row = half;
    for (var x = wx.first; x <= wx.last; x++) {
      row += kx[x - wx.first] * vec3<u32>(round(rgb_at(x, y) * 255.0));
    }
    column += pil_coefficient(filter_weight(wy, y, out_size.y), wy.total) * clip8(row);
  }
  return vec3<f32>(clip8(column)) / 255.0;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let out_size = params.out_size;
  if (id.x >= out_size.x || id.y >= out_size.y) {
    return;
  }
  let in_size = vec2<i32>(textureDimensions(source));
  let out_xy = vec2<i32>(id.xy);
  var rgb: vec3<f32>;
  switch MODE {
    case 1u: { rgb = resize_antialias(out_xy, in_size, vec2<i32>(out_size)); }
    case 2u: { rgb = resize_pil(out_xy, in_size, vec2<i32>(out_size)); }
    default: { rgb = resize_plain(out_xy, in_size, vec2<i32>(out_size)); }
  }
  let normalized = (rgb - params.mean.xyz) / params.std_dev.xyz;
  let plane = out_size.x * out_size.y;
  let index = id.y * out_size.x + id.x;
  output[index] = normalized.x;
  output[plane + index] = normalized.y;
  output[2u * plane + index] = normalized.z;
}
