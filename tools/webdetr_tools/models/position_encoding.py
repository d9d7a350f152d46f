"""Sine position encodings of an unpadded [B, C, H, W] feature map (no padding mask).

API: sine_position_encoding(batch, height, width, num_pos_feats=128, offset=0.0, temperature=10000,
scale=2*pi, device=None) -> [B, 2*num_pos_feats, H, W] with channels [pos_y, pos_x], each interleaving
sin (even feature index) and cos (odd). Normalized coordinates: (k - offset) / (N + 1e-6) * scale for
k = 1..N. Deformable-DETR uses offset 0.5, DETR/UP-DETR offset 0. Same float32 operation order as the
official modules (cumsum of ones == 1..N exactly).
"""
import math

import torch


def _frequencies(num_pos_feats: int, temperature: float, device):
    index = torch.arange(num_pos_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (index // 2) / num_pos_feats)


def _embed(coord, freqs):
    # coord [..., 1] / freqs -> interleave sin(even), cos(odd)
    angles = coord[..., None] / freqs
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_encoding(
    batch: int,
    height: int,
    width: int,
    num_pos_feats: int = 128,
    offset: float = 0.0,
    temperature: float = 10000,
    scale: float = 2 * math.pi,
    device=None,
):
    ys = torch.ones(batch, height, width, dtype=torch.float32, device=device).cumsum(1)
    xs = torch.ones(batch, height, width, dtype=torch.float32, device=device).cumsum(2)
    eps = 1e-6
    ys = (ys - offset) / (ys[:, -1:, :] + eps) * scale
    xs = (xs - offset) / (xs[:, :, -1:] + eps) * scale
    freqs = _frequencies(num_pos_feats, temperature, device)
    return torch.cat((_embed(ys, freqs), _embed(xs, freqs)), dim=3).permute(0, 3, 1, 2)
