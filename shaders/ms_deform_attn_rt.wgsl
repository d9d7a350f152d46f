// Multi-scale deformable attention as the RT-DETR family computes it (RT-DETR v1 / v2
// MSDeformableAttention + deformable_attention_core_func_v2), two entry points:
//   core : locations + weights given.
//   fused: reference points + raw offsets + raw logits: locations, softmax over all samples of a head
//          (max-subtracted), sampling and the weighted sum in one pass.
// What differs from ms_deform_attn.wgsl (Deformable-DETR):
//   * per-level point counts P_l (v2's num_points list); a head's samples are level-major, S_P = sum P_l;
//   * boxes (R = 4): loc = ref_xy + offset / P_l * ref_wh * OFFSET_SCALE (v2's offset_scale, 0.5 in v1);
//   * the reference may be one row per query shared by every level ([N, Lq, 1, R], the decoder's form);
//   * DISCRETE (v2's method='discrete'): no bilinear; the pixel trunc(loc * (W, H) + 0.5) clamped to
//     [0, H - 1] on both axes as the official code does (then to W - 1 on x, where it would index past
//     the row), weighted by the attention; 'default' is grid_sample(2*loc - 1, bilinear, zeros,
//     align_corners=False).
// Layouts (row-major f32): value [N, S, M, D] (levels concatenated level-major, S = sum H_l*W_l);
//   locations / offsets [N, Lq, M, S_P, 2] as (x, y); weights / logits [N, Lq, M, S_P];
//   reference [N, Lq, L or 1, REFERENCE_DIM] as (x, y) or (cx, cy, w, h); output [N, Lq, M*D] (m*D + c).
// Bindings: 0 params (uniform), 1 value, 2 locations, 3 weights, 4 reference, 5 offsets,
//   6 logits, 7 output (read_write). core uses 0-3, 7; fused uses 0, 1, 4-7.
// Thread mapping and precision as ms_deform_attn.wgsl: one workgroup per (batch, query, head) pair,
//   LANES threads; phase 1 turns samples into corner indices + weights in workgroup memory, phase 2
//   gathers channels lane-strided (coalesced). Pixel coordinates are formed as an exact base plus a
//   small rest (pixel_coord) so the floor is right to ~1e-7 px on large maps.
struct Level { height: u32, width: u32, start: u32, points: u32 }
struct Params {
  batch: u32, queries: u32, heads: u32, head_dim: u32,
  level_count: u32, samples: u32, tokens: u32, pair_count: u32,
  offset_scale: f32, reference_levels: u32, pad0: u32, pad1: u32,
  level: array<Level, 8>,
}

override LANES: u32 = 32u;
override SAMPLE_CAPACITY: u32 = 16u;  // largest S_P this pipeline accepts (<= 128)
override REFERENCE_DIM: u32 = 2u;
override DISCRETE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> value: array<f32>;
@group(0) @binding(2) var<storage, read> locations: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> reference: array<f32>;
@group(0) @binding(5) var<storage, read> offsets: array<f32>;
@group(0) @binding(6) var<storage, read> logits: array<f32>;
@group(0) @binding(7) var<storage, read_write> output: array<f32>;

var<workgroup> corner_index: array<vec4<u32>, SAMPLE_CAPACITY>;
var<workgroup> corner_weight: array<vec4<f32>, SAMPLE_CAPACITY>;
var<workgroup> exp_logit: array<f32, SAMPLE_CAPACITY>;

// (floor, fraction) of x * size + shift + rest_px, the exact base floored first (see header).
fn pixel_coord(x: f32, size: f32, shift: f32, rest_px: f32) -> vec2<f32> {
  let x_hi = floor(x * 4096.0) * (1.0 / 4096.0);
  let base = x_hi * size + shift;
  let fb = floor(base);
  let t = (base - fb) + ((x - x_hi) * size + rest_px);
  let ft = floor(t);
  return vec2<f32>(fb + ft, t - ft);
}

// Level of sample s (levels are level-major; at most 8, so a scan is cheap).
fn level_of(s: u32) -> u32 {
  var level = 0u;
  var end = params.level[0].points;
  while (s >= end && level + 1u < params.level_count) {
    level += 1u;
    end += params.level[level].points;
  }
  return level;
}

// Sample s at (x, y) = loc * size + rest_px (pixels, before the grid_sample / discrete shift).
fn store_sample(s: u32, row_base: u32, level: u32, x: f32, rest_x: f32, y: f32, rest_y: f32, attn: f32) {
  let info = params.level[level];
  let w = i32(info.width);
  let h = i32(info.height);
  let stride = params.heads * params.head_dim;
  if (DISCRETE) {
    // trunc(v + 0.5) then clamp to [0, H-1] equals floor(v + 0.5) clamped there.
    let px = pixel_coord(x, f32(w), 0.5, rest_x);
    let py = pixel_coord(y, f32(h), 0.5, rest_y);
    let cx = u32(min(clamp(i32(clamp(px.x, -2.0, f32(max(w, h)) + 1.0)), 0, h - 1), w - 1));
    let cy = u32(clamp(i32(clamp(py.x, -2.0, f32(h) + 1.0)), 0, h - 1));
    let i = row_base + (info.start + cy * info.width + cx) * stride;
    corner_index[s] = vec4<u32>(i);
    corner_weight[s] = vec4<f32>(attn, 0.0, 0.0, 0.0);
    return;
  }
  let px = pixel_coord(x, f32(w), -0.5, rest_x);
  let py = pixel_coord(y, f32(h), -0.5, rest_y);
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
  let row0 = row_base + (info.start + cy.x * info.width) * stride;
  let row1 = row_base + (info.start + cy.y * info.width) * stride;
  corner_index[s] = vec4<u32>(row0 + cx.x * stride, row0 + cx.y * stride, row1 + cx.x * stride, row1 + cx.y * stride);
}

fn pair_of(group: vec3<u32>, grid: vec3<u32>) -> u32 {
  return group.y * grid.x + group.x;
}

// Element offset of value[n, 0, m, 0] for pair = (n * Lq + q) * M + m.
fn row_base_of(pair: u32) -> u32 {
  let batch = pair / (params.heads * params.queries);
  return (batch * params.tokens * params.heads + pair % params.heads) * params.head_dim;
}

fn gather(pair: u32, lane: u32) {
  for (var c = lane; c < params.head_dim; c += LANES) {
    var acc = 0.0;
    for (var s = 0u; s < params.samples; s++) {
      let i = corner_index[s] + vec4<u32>(c);
      if (DISCRETE) {
        acc += corner_weight[s].x * value[i.x];
      } else {
        acc += dot(corner_weight[s], vec4<f32>(value[i.x], value[i.y], value[i.z], value[i.w]));
      }
    }
    output[pair * params.head_dim + c] = acc;
  }
}

@compute @workgroup_size(LANES)
fn core(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3<u32>,
        @builtin(num_workgroups) grid: vec3<u32>) {
  let pair = pair_of(group, grid);
  // Uniform exit: the whole workgroup leaves together, before any barrier.
  if (pair >= params.pair_count) { return; }
  let row_base = row_base_of(pair);
  for (var s = lane; s < params.samples; s += LANES) {
    let level = level_of(s);
    let i = pair * params.samples + s;
    // Clamping to [-1, 2] keeps out-of-map locations out of the map and avoids overflow.
    let loc = clamp(vec2<f32>(locations[2u * i], locations[2u * i + 1u]), vec2<f32>(-1.0), vec2<f32>(2.0));
    store_sample(s, row_base, level, loc.x, 0.0, loc.y, 0.0, weights[i]);
  }
  workgroupBarrier();
  gather(pair, lane);
}

@compute @workgroup_size(LANES)
fn fused(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3<u32>,
         @builtin(num_workgroups) grid: vec3<u32>) {
  let pair = pair_of(group, grid);
  if (pair >= params.pair_count) { return; }
  let samples = params.samples;
  // Max over the head's logits (every lane reads them; S_P <= 128), one exp per sample, staged.
  var top = logits[pair * samples];
  for (var s = 1u; s < samples; s++) { top = max(top, logits[pair * samples + s]); }
  for (var s = lane; s < samples; s += LANES) { exp_logit[s] = exp(logits[pair * samples + s] - top); }
  workgroupBarrier();
  var total = 0.0;
  for (var s = 0u; s < samples; s++) { total += exp_logit[s]; }
  let query = pair / params.heads;
  let row_base = row_base_of(pair);
  for (var s = lane; s < samples; s += LANES) {
    let level = level_of(s);
    let info = params.level[level];
    let size = vec2<f32>(f32(info.width), f32(info.height));
    let i = pair * samples + s;
    let offset = vec2<f32>(offsets[2u * i], offsets[2u * i + 1u]);
    let r = (query * params.reference_levels + select(0u, level, params.reference_levels > 1u)) * REFERENCE_DIM;
    let ref_xy = vec2<f32>(reference[r], reference[r + 1u]);
    // R = 2: loc = ref + offset / (W, H); R = 4: loc = ref_xy + offset / P_l * ref_wh * offset_scale.
    var rest = offset;
    if (REFERENCE_DIM == 4u) {
      rest = offset / f32(info.points) * vec2<f32>(reference[r + 2u], reference[r + 3u]) * params.offset_scale * size;
    }
    store_sample(s, row_base, level, ref_xy.x, rest.x, ref_xy.y, rest.y, exp_logit[s] / total);
  }
  workgroupBarrier();
  gather(pair, lane);
}
