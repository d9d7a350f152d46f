// Shared bilinear filters (no entry point): prepended by the TypeScript wrappers
// (src/kernels/bilinear-gpu.ts withBilinearFilters) to bilinear_resize_normalize.wgsl and
// bilinear_crop_resize.wgsl, which document the exact index math these functions implement.
// Needs from the kernel: its `source` binding (texture_2d<f32>, rgba8unorm); MODE picks a resize_* there.
// Every resize_* reads the in_size rectangle of `source` at `origin` (the image's (0, 0) for the resize
// kernel, a crop rectangle's corner for the crop kernel) and returns the output pixel out_xy in [0, 1].

const PIL_PRECISION_BITS = 22u;
// Taps per axis: at most 2*s + 2 for a downscale s <= MAX_ANTIALIAS_DOWNSCALE (64, the wrappers').
const MAX_TAPS = 130u;

// Plain bilinear along one axis: (i0, i1) relative to the rectangle's origin and the weight of i1.
struct LinearTaps { i0: i32, i1: i32, lambda: f32 }

fn linear_taps(i: i32, in_size: i32, out_size: i32) -> LinearTaps {
  let numerator = max(in_size * (2 * i + 1) - out_size, 0);
  let denominator = 2 * out_size;
  let i0 = numerator / denominator;
  let rest = numerator - i0 * denominator;
  return LinearTaps(i0, min(i0 + 1, in_size - 1), f32(rest) / f32(denominator));
}

// Antialiased window along one axis: rectangle-relative pixels [first, last] (conservative bounds:
// weights clamp at 0) and the sum of their weights.
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

fn rgb_at(origin: vec2<i32>, x: i32, y: i32) -> vec3<f32> {
  return textureLoad(source, origin + vec2<i32>(x, y), 0).rgb;
}

fn resize_plain(origin: vec2<i32>, out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
  let tx = linear_taps(out_xy.x, in_size.x, out_size.x);
  let ty = linear_taps(out_xy.y, in_size.y, out_size.y);
  let top = mix(rgb_at(origin, tx.i0, ty.i0), rgb_at(origin, tx.i1, ty.i0), tx.lambda);
  let bottom = mix(rgb_at(origin, tx.i0, ty.i1), rgb_at(origin, tx.i1, ty.i1), tx.lambda);
  return mix(top, bottom, ty.lambda);
}

fn resize_antialias(origin: vec2<i32>, out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
  let wx = filter_window(out_xy.x, in_size.x, out_size.x);
  let wy = filter_window(out_xy.y, in_size.y, out_size.y);
  var sum = vec3<f32>(0.0);
  for (var y = wy.first; y <= wy.last; y++) {
    var row = vec3<f32>(0.0);
    for (var x = wx.first; x <= wx.last; x++) {
      row += f32(filter_weight(wx, x, out_size.x)) * rgb_at(origin, x, y);
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

fn resize_pil(origin: vec2<i32>, out_xy: vec2<i32>, in_size: vec2<i32>, out_size: vec2<i32>) -> vec3<f32> {
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
      row += kx[x - wx.first] * vec3<u32>(round(rgb_at(origin, x, y) * 255.0));
    }
    column += pil_coefficient(filter_weight(wy, y, out_size.y), wy.total) * clip8(row);
  }
  return vec3<f32>(clip8(column)) / 255.0;
}
