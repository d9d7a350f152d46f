"""Multi-scale deformable attention core with raw inputs, as the WGSL fused kernel takes them.

Inputs: value [N, S, M, D], reference points [N, Lq, L, R] (R = 2 points or 4 boxes), raw sampling offsets
[N, Lq, M, L, P, 2], raw attention logits [N, Lq, M, L*P]; output [N, Lq, M*D]. The softmax over L*P and the
location formula happen here (in the kernel at run time). Sampling is F.grid_sample (bilinear, zeros padding,
align_corners=False), so the single-graph ONNX export uses GridSample (opset >= 16).
"""
import torch
import torch.nn.functional as F


def sampling_locations(reference_points, offsets, level_shapes):
    n_points = offsets.shape[4]
    if reference_points.shape[-1] == 2:
        # offsets are in pixels of each level: divide by (W_l, H_l)
        normalizer = torch.tensor([[w, h] for h, w in level_shapes], dtype=offsets.dtype)
        return reference_points[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
    # 4-d reference boxes: offsets scale with the box size
    return (
        reference_points[:, :, None, :, None, :2] + offsets / n_points * reference_points[:, :, None, :, None, 2:] * 0.5
    )


def ms_deform_attn_core(value, reference_points, offsets, logits, level_shapes):
    n, _, heads, head_dim = value.shape
    _, queries, _, levels, points, _ = offsets.shape
    weights = F.softmax(logits, -1).view(n, queries, heads, levels, points)
    grids = 2 * sampling_locations(reference_points, offsets, level_shapes) - 1
    sampled = []
    start = 0
    for level, (h, w) in enumerate(level_shapes):
        value_l = value[:, start : start + h * w].flatten(2).transpose(1, 2).reshape(n * heads, head_dim, h, w)
        grid_l = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(value_l, grid_l, mode="bilinear", padding_mode="zeros", align_corners=False))
        start += h * w
    weights = weights.transpose(1, 2).reshape(n * heads, 1, queries, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1).view(n, heads * head_dim, queries)
    return out.transpose(1, 2).contiguous()
