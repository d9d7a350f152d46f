"""Deformable-DETR transformer pieces (official parameter names), for unpadded inputs (valid ratios 1).

API:
- inverse_sigmoid(x, eps=1e-5)
- MLP(in_dim, hidden_dim, out_dim, num_layers): Linear+ReLU stack, keys 'layers.i.*'.
- encoder_reference_points(spatial_shapes, batch, device) -> [B, S, L, 2] pixel centres (i+0.5)/H_l.
- DeformableEncoderLayer.forward(src, pos, reference_points, spatial_shapes) -> src (post-norm).
- DeformableDecoderLayer.forward(tgt, query_pos, reference_points [B,Q,L,2|4], memory, spatial_shapes)
  -> tgt. Order: self-attn -> norm2, cross MSDeformAttn -> norm1, FFN -> norm3.
- refine_reference(bbox_embed, hs, reference) -> new reference boxes [B, Q, 4] (iterative refinement).
- encoder_output_proposals(memory, spatial_shapes) -> (proposals in inverse-sigmoid space with +inf at
  invalid positions [B, S, 4], validity [B, S, 1] bool).
- proposal_position_embedding(proposals_unact, num_pos_feats=128) -> [B, Q, 4*num_pos_feats].
- DeformableTransformer: holds level_embed, encoder.layers, decoder.layers, and reference_points (one-stage)
  or enc_output/enc_output_norm/pos_trans/pos_trans_norm (two-stage); decoder.bbox_embed /
  decoder.class_embed are attached by the detector (aliases of its heads, as in the official code).
"""
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .ms_deform_attn import MSDeformAttn


def inverse_sigmoid(x, eps: float = 1e-5):
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


class MLP(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int):
        super().__init__()
        dims_in = [in_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == last else F.relu(layer(x))
        return x


def encoder_reference_points(spatial_shapes, batch: int, device=None):
    points = []
    for h, w in spatial_shapes:
        ys, xs = torch.meshgrid(
            torch.linspace(0.5, h - 0.5, h, dtype=torch.float32, device=device),
            torch.linspace(0.5, w - 0.5, w, dtype=torch.float32, device=device),
            indexing="ij",
        )
        points.append(torch.stack((xs.reshape(-1) / w, ys.reshape(-1) / h), -1))
    ref = torch.cat(points, 0)
    return ref[None, :, None, :].expand(batch, -1, len(spatial_shapes), -1)


class DeformableEncoderLayer(nn.Module):
    def __init__(self, d_model=256, d_ffn=1024, n_levels=4, n_heads=8, n_points=4):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def finish(self, src, attn_out):
        """Residual + norm1 and the FFN block, given output_proj's result."""
        src = self.norm1(src + attn_out)
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))

    def forward(self, src, pos, reference_points, spatial_shapes):
        attn_out = self.self_attn(src + pos, reference_points, src, spatial_shapes)
        return self.finish(src, attn_out)


class DeformableDecoderLayer(nn.Module):
    def __init__(self, d_model=256, d_ffn=1024, n_levels=4, n_heads=8, n_points=4):
        super().__init__()
        self.cross_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.0)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def self_attention(self, tgt, query_pos):
        q = (tgt + query_pos).transpose(0, 1)
        out = self.self_attn(q, q, tgt.transpose(0, 1))[0].transpose(0, 1)
        return self.norm2(tgt + out)

    def finish(self, tgt, attn_out):
        tgt = self.norm1(tgt + attn_out)
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))

    def forward(self, tgt, query_pos, reference_points, memory, spatial_shapes):
        tgt = self.self_attention(tgt, query_pos)
        attn_out = self.cross_attn(tgt + query_pos, reference_points, memory, spatial_shapes)
        return self.finish(tgt, attn_out)


def refine_reference(bbox_embed, hs, reference):
    delta = bbox_embed(hs)
    if reference.shape[-1] == 4:
        return (delta + inverse_sigmoid(reference)).sigmoid()
    # 2-d points become boxes: the point refines the centre, the width/height come from the head alone
    return torch.cat((delta[..., :2] + inverse_sigmoid(reference), delta[..., 2:]), -1).sigmoid()


def encoder_output_proposals(memory, spatial_shapes):
    batch = memory.shape[0]
    proposals = []
    for level, (h, w) in enumerate(spatial_shapes):
        ys, xs = torch.meshgrid(
            torch.linspace(0, h - 1, h, dtype=torch.float32, device=memory.device),
            torch.linspace(0, w - 1, w, dtype=torch.float32, device=memory.device),
            indexing="ij",
        )
        centre = (torch.stack((xs, ys), -1) + 0.5) / torch.tensor([float(w), float(h)], device=memory.device)
        size = torch.ones_like(centre) * 0.05 * (2.0**level)
        proposals.append(torch.cat((centre, size), -1).view(1, -1, 4).expand(batch, -1, -1))
    proposals = torch.cat(proposals, 1)
    valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
    proposals = torch.log(proposals / (1 - proposals)).masked_fill(~valid, float("inf"))
    return proposals, valid


def proposal_position_embedding(proposals_unact, num_pos_feats: int = 128, temperature: float = 10000):
    index = torch.arange(num_pos_feats, dtype=torch.float32, device=proposals_unact.device)
    freqs = temperature ** (2 * (index // 2) / num_pos_feats)
    angles = (proposals_unact.sigmoid() * (2 * math.pi))[..., None] / freqs
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(2)


class _Stack(nn.Module):
    def __init__(self, layer: nn.Module, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))


class DeformableTransformer(nn.Module):
    def __init__(
        self,
        d_model=256,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        dim_feedforward=1024,
        num_feature_levels=4,
        enc_n_points=4,
        dec_n_points=4,
        two_stage=False,
    ):
        super().__init__()
        self.d_model, self.nhead, self.two_stage = d_model, nhead, two_stage
        self.num_feature_levels = num_feature_levels
        self.encoder = _Stack(
            DeformableEncoderLayer(d_model, dim_feedforward, num_feature_levels, nhead, enc_n_points),
            num_encoder_layers,
        )
        self.decoder = _Stack(
            DeformableDecoderLayer(d_model, dim_feedforward, num_feature_levels, nhead, dec_n_points),
            num_decoder_layers,
        )
        self.decoder.bbox_embed = None  # set by the detector for refinement (aliases its bbox_embed)
        self.decoder.class_embed = None  # set by the detector for two-stage (aliases its class_embed)
        self.level_embed = nn.Parameter(torch.zeros(num_feature_levels, d_model))
        if two_stage:
            self.enc_output = nn.Linear(d_model, d_model)
            self.enc_output_norm = nn.LayerNorm(d_model)
            self.pos_trans = nn.Linear(d_model * 2, d_model * 2)
            self.pos_trans_norm = nn.LayerNorm(d_model * 2)
        else:
            self.reference_points = nn.Linear(d_model, 2)
