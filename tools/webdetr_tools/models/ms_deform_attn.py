"""Multi-scale deformable attention with a swappable sampling core.

API:
- sampling_locations(reference_points, offsets, spatial_shapes) -> [N, Lq, M, L, P, 2] normalized (x, y).
  2-d reference points: ref + offset / (W_l, H_l); 4-d boxes: ref_xy + offset / P * ref_wh * 0.5.
- grid_sample_core(value, reference_points, offsets, logits, spatial_shapes) -> [N, Lq, M*D]: the default
  core. value [N, S, M, D] (levels concatenated level-major), reference_points [N, Lq, L, 2|4], raw
  sampling offsets [N, Lq, M, L, P, 2], raw attention logits [N, Lq, M, L*P] (softmax over L*P happens
  here), spatial_shapes a list of (H_l, W_l) ints. Bilinear, zero padding, align_corners False.
- MSDeformAttn(d_model, n_levels, n_heads, n_points, core=grid_sample_core): official parameter names
  (sampling_offsets, attention_weights, value_proj, output_proj). `projections(query, input_flatten)`
  returns the core's inputs (value, offsets, logits); forward(query, reference_points, input_flatten,
  spatial_shapes) = output_proj(core(...)). Assign `.core` to swap the sampling (e.g. for export).
  `reset_parameters()` is Deformable-DETR's initialisation (upstream's _reset_parameters), for training from
  scratch; it is not called on construction (loaded checkpoints overwrite every parameter).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def sampling_locations(reference_points, offsets, spatial_shapes):
    if reference_points.shape[-1] == 2:
        # offsets are measured in pixels of each level
        normalizer = torch.tensor(
            [[float(w), float(h)] for h, w in spatial_shapes], dtype=offsets.dtype, device=offsets.device
        )
        return reference_points[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
    if reference_points.shape[-1] == 4:
        # offsets are measured in units of half the reference box, spread over the P points
        n_points = offsets.shape[4]
        return (
            reference_points[:, :, None, :, None, :2]
            + offsets / n_points * reference_points[:, :, None, :, None, 2:] * 0.5
        )
    raise ValueError(f"reference points must end in 2 or 4 coordinates, got {tuple(reference_points.shape)}")


def grid_sample_core(value, reference_points, offsets, logits, spatial_shapes):
    n, _, heads, head_dim = value.shape
    _, n_queries, _, levels, points, _ = offsets.shape
    weights = F.softmax(logits, -1).view(n, n_queries, heads, levels, points)
    grids = 2 * sampling_locations(reference_points, offsets, spatial_shapes) - 1
    per_level = value.split([h * w for h, w in spatial_shapes], dim=1)
    samples = []
    for level, (h, w) in enumerate(spatial_shapes):
        # [N, HW, M, D] -> [N*M, D, H, W]; grid [N, Lq, M, P, 2] -> [N*M, Lq, P, 2]
        value_l = per_level[level].flatten(2).transpose(1, 2).reshape(n * heads, head_dim, h, w)
        grid_l = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        samples.append(F.grid_sample(value_l, grid_l, mode="bilinear", padding_mode="zeros", align_corners=False))
    # samples: [N*M, D, Lq, L*P] weighted by [N*M, 1, Lq, L*P]
    weights = weights.transpose(1, 2).reshape(n * heads, 1, n_queries, levels * points)
    out = (torch.stack(samples, dim=-2).flatten(-2) * weights).sum(-1).view(n, heads * head_dim, n_queries)
    return out.transpose(1, 2).contiguous()


class MSDeformAttn(nn.Module):
    def __init__(
        self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4, core=grid_sample_core
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.core = core

    def reset_parameters(self):
        # zero offset weights, biases on a ring of directions scaled by point index (sampling starts spread
        # around the reference point), uniform attention, xavier projections
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.n_heads, 1, 1, 2)
        grid = grid.repeat(1, self.n_levels, self.n_points, 1)
        for i in range(self.n_points):
            grid[:, :, i, :] *= i + 1
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def project_value(self, input_flatten):
        n, s, _ = input_flatten.shape
        return self.value_proj(input_flatten).view(n, s, self.n_heads, self.d_model // self.n_heads)

    def project_query(self, query):
        n, lq, _ = query.shape
        offsets = self.sampling_offsets(query).view(n, lq, self.n_heads, self.n_levels, self.n_points, 2)
        logits = self.attention_weights(query).view(n, lq, self.n_heads, self.n_levels * self.n_points)
        return offsets, logits

    def projections(self, query, input_flatten):
        offsets, logits = self.project_query(query)
        return self.project_value(input_flatten), offsets, logits

    def forward(self, query, reference_points, input_flatten, spatial_shapes):
        value, offsets, logits = self.projections(query, input_flatten)
        return self.output_proj(self.core(value, reference_points, offsets, logits, spatial_shapes))
