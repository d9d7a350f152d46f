// Multi-scale deformable attention (Deformable-DETR MSDeformAttn), two entry points:
//   core : locations + weights given; mirrors ms_deform_attn_core_pytorch
//          (F.grid_sample(value_l, 2*loc-1, bilinear, zeros, align_corners=False), weighted sum).
//   fused: reference points + raw offsets + raw logits (MSDeformAttn.forward): computes the
//          locations, softmax over L*P (max-subtracted), samples and sums in one pass.
// Layouts (row-major f32): value [N, S, M, D] (levels concatenated level-major, S = sum H_l*W_l);
//   locations / offsets [N, Lq, M, L, P, 2] as (x, y); weights / logits [N, Lq, M, L, P];
//   reference [N, Lq, L, REFERENCE_DIM] as (x, y) or (cx, cy, w, h); output [N, Lq, M*D] (m*D + c).
// Bindings: 0 params (uniform), 1 value, 2 locations, 3 weights, 4 reference, 5 offsets,
//   6 logits, 7 output (read_write). core uses 0-3, 7; fused uses 0, 1, 4-7.
// Thread mapping: a "pair" is one (batch, query, head); PAIRS pairs per workgroup (host default 1),
//   LANES threads per pair (default 32), 2-D grid past 65535 groups. Phase 1: a pair's threads turn
//   its L*P samples into 4 clamped corner element indices + 4 weights (attention x bilinear x
//   in-map) in workgroup memory (fused: logits staged there, softmax with one exp per sample).
//   Phase 2: lane t gathers channels t, t+LANES, ...: per (sample, corner) one broadcast workgroup
//   read and a value-row read that consecutive lanes make at consecutive addresses (coalesced);
//   output rows are written contiguously. SAMPLE_CAPACITY (16 when L*P <= 16, else 128) keeps
//   workgroup memory small (2x faster on SwiftShader than always 128). Scalar lanes keep any D exact.
// Precision: w = x*W - 0.5 is formed as base + rest with base = x_hi*W - 0.5 exact (x_hi = x rounded
//   down to 1/4096) and rest small, so corner index and bilinear fraction keep ~1e-7 px accuracy on
//   large maps instead of ulp(W) ~ 1e-5 px.
struct Level { height: u32, width: u32, start: u32, pad: u32 }
struct Params {
  batch: u32, queries: u32, heads: u32, head_dim: u32,
  level_count: u32, points: u32, tokens: u32, pair_count: u32,
  level: array<Level, 8>,
}

override LANES: u32 = 32u;            // threads per pair
override PAIRS: u32 = 1u;             // pairs per workgroup
override SAMPLE_CAPACITY: u32 = 16u;  // largest L*P this pipeline accepts (<= 128)
override REFERENCE_DIM: u32 = 2u;
override GROUP_THREADS: u32 = LANES * PAIRS;
override GROUP_SAMPLES: u32 = PAIRS * SAMPLE_CAPACITY;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> value: array<f32>;
@group(0) @binding(2) var<storage, read> locations: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> reference: array<f32>;
@group(0) @binding(5) var<storage, read> offsets: array<f32>;
@group(0) @binding(6) var<storage, read> logits: array<f32>;
@group(0) @binding(7) var<storage, read_write> output: array<f32>;

var<workgroup> corner_index: array<vec4<u32>, GROUP_SAMPLES>;
var<workgroup> corner_weight: array<vec4<f32>, GROUP_SAMPLES>;
var<workgroup> logit: array<f32, GROUP_SAMPLES>;
var<workgroup> exp_logit: array<f32, GROUP_SAMPLES>;

// (floor, fraction) of x * size - 0.5 + rest_px, exact base floored first (see header).
fn pixel_coord(x: f32, size: f32, rest_px: f32) -> vec2<f32> {
  let x_hi = floor(x * 4096.0) * (1.0 / 4096.0);
  let base = x_hi * size - 0.5;
  let fb = floor(base);
  let t = (base - fb) + ((x - x_hi) * size + rest_px);
  let ft = floor(t);
  return vec2<f32>(fb + ft, t - ft);
}

fn store_sample(s: u32, row_base: u32, level: u32, px: vec2<f32>, py: vec2<f32>, attn: f32) {
  let info = params.level[level];
  let w = i32(info.width);
  let h = i32(info.height);
  let x0 = i32(clamp(px.x, -2.0, f32(w) + 1.0));
  let y0 = i32(clamp(py.x, -2.0, f32(h) + 1.0));
  let in_x = vec2<bool>((x0 >= 0) && (x0 < w), (x0 + 1 >= 0) && (x0 + 1 < w));
  let in_y = vec2<bool>((y0 >= 0) && (y0 < h), (y0 + 1 >= 0) && (y0 + 1 < h));
  let fx = px.y;
  let fy = py.y;
  corner_weight[s] = vec4<f32>(
    select(0.0, (1.0 - fy) * (1.0 - fx) * attn, in_y.x && in_x.x),
    select(0.0, (1.0 - fy) * fx * attn, in_y.x && in_x.y),
    select(0.0, fy * (1.0 - fx) * attn, in_y.y && in_x.x),
    select(0.0, fy * fx * attn, in_y.y && in_x.y));
  // Out-of-map corners read a clamped in-map element (weight 0), never another level's memory.
  let cx = vec2<u32>(u32(clamp(x0, 0, w - 1)), u32(clamp(x0 + 1, 0, w - 1)));
  let cy = vec2<u32>(u32(clamp(y0, 0, h - 1)), u32(clamp(y0 + 1, 0, h - 1)));
  let stride = params.heads * params.head_dim;
  let row0 = row_base + (info.start + cy.x * info.width) * stride;
  let row1 = row_base + (info.start + cy.y * info.width) * stride;
  corner_index[s] = vec4<u32>(row0 + cx.x * stride, row0 + cx.y * stride, row1 + cx.x * stride, row1 + cx.y * stride);
}

struct Pair { index: u32, lane: u32, first: u32, in_range: bool }

fn pair_of(thread: u32, group: vec3<u32>, grid: vec3<u32>) -> Pair {
  let local = thread / LANES;
  let index = (group.y * grid.x + group.x) * PAIRS + local;
  return Pair(index, thread % LANES, local * SAMPLE_CAPACITY, index < params.pair_count);
}

// Element offset of value[n, 0, m, 0] for pair = (n * Lq + q) * M + m.
fn row_base_of(pair: u32) -> u32 {
  let batch = pair / (params.heads * params.queries);
  return (batch * params.tokens * params.heads + pair % params.heads) * params.head_dim;
}

fn gather(pair: Pair, samples: u32) {
  if (!pair.in_range) { return; }
  for (var c = pair.lane; c < params.head_dim; c += LANES) {
    var acc = 0.0;
    for (var s = pair.first; s < pair.first + samples; s++) {
      let i = corner_index[s] + vec4<u32>(c);
      acc += dot(corner_weight[s], vec4<f32>(value[i.x], value[i.y], value[i.z], value[i.w]));
    }
    output[pair.index * params.head_dim + c] = acc;
  }
}

@compute @workgroup_size(GROUP_THREADS)
fn core(@builtin(local_invocation_index) thread: u32, @builtin(workgroup_id) group: vec3<u32>,
        @builtin(num_workgroups) grid: vec3<u32>) {
  let pair = pair_of(thread, group, grid);
  let samples = params.level_count * params.points;
  if (pair.in_range) {
    let row_base = row_base_of(pair.index);
    for (var s = pair.lane; s < samples; s += LANES) {
      let level = s / params.points;
      let size = vec2<f32>(f32(params.level[level].width), f32(params.level[level].height));
      let i = pair.index * samples + s;
      // Clamping to [-1, 2] keeps out-of-map locations out of the map and avoids overflow.
      let loc = clamp(vec2<f32>(locations[2u * i], locations[2u * i + 1u]), vec2<f32>(-1.0), vec2<f32>(2.0));
      store_sample(pair.first + s, row_base, level, pixel_coord(loc.x, size.x, 0.0), pixel_coord(loc.y, size.y, 0.0),
                   weights[i]);
    }
  }
  workgroupBarrier();
  gather(pair, samples);
}

@compute @workgroup_size(GROUP_THREADS)
fn fused(@builtin(local_invocation_index) thread: u32, @builtin(workgroup_id) group: vec3<u32>,
         @builtin(num_workgroups) grid: vec3<u32>) {
  let pair = pair_of(thread, group, grid);
  let samples = params.level_count * params.points;
  let first = pair.first;
  if (pair.in_range) {
    for (var s = pair.lane; s < samples; s += LANES) { logit[first + s] = logits[pair.index * samples + s]; }
  }
  workgroupBarrier();
  if (pair.in_range) {
    var top = logit[first];
    for (var s = 1u; s < samples; s++) { top = max(top, logit[first + s]); }
    // One exp per sample (not per lane and sample): exps staged, then every lane sums them.
    for (var s = pair.lane; s < samples; s += LANES) { exp_logit[first + s] = exp(logit[first + s] - top); }
  }
  workgroupBarrier();
  if (pair.in_range) {
    var total = 0.0;
    for (var s = 0u; s < samples; s++) { total += exp_logit[first + s]; }
    let query = pair.index / params.heads;
    let row_base = row_base_of(pair.index);
    for (var s = pair.lane; s < samples; s += LANES) {
      let level = s / params.points;
      let size = vec2<f32>(f32(params.level[level].width), f32(params.level[level].height));
      let i = pair.index * samples + s;
      let offset = vec2<f32>(offsets[2u * i], offsets[2u * i + 1u]);
      let r = (query * params.level_count + level) * REFERENCE_DIM;
      let ref_xy = vec2<f32>(reference[r], reference[r + 1u]);
      // R = 2: loc = ref + offset / (W, H); R = 4: loc = ref_xy + offset / P * ref_wh * 0.5.
      var rest = offset;
      if (REFERENCE_DIM == 4u) {
        rest = offset / f32(params.points) * vec2<f32>(reference[r + 2u], reference[r + 3u]) * 0.5 * size;
      }
      store_sample(first + s, row_base, level, pixel_coord(ref_xy.x, size.x, rest.x),
                   pixel_coord(ref_xy.y, size.y, rest.y), exp_logit[first + s] / total);
    }
  }
  workgroupBarrier();
  gather(pair, samples);
}
