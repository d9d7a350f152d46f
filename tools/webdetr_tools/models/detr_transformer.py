"""DETR transformer (as used by UP-DETR): dense attention, pre-norm or post-norm, official names.

API (sequence-first tensors [S, B, d] like nn.MultiheadAttention's default):
- DetrEncoderLayer.forward(src, pos) -> src
- DetrDecoderLayer.forward(tgt, memory, pos, query_pos, tgt_mask=None) -> tgt
- DetrTransformer(d_model, nhead, enc_layers, dec_layers, dim_feedforward, pre_norm):
  encode(src, pos) -> memory (encoder.norm applied when pre-norm);
  decode(tgt, memory, pos, query_pos, tgt_mask) -> final decoder output after decoder.norm [Q, B, d].
"""
import copy

import torch.nn.functional as F
from torch import nn


class DetrEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, pre_norm):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.pre_norm = pre_norm

    def _ffn(self, x):
        return self.linear2(F.relu(self.linear1(x)))

    def forward(self, src, pos):
        if self.pre_norm:
            x = self.norm1(src)
            src = src + self.self_attn(x + pos, x + pos, value=x)[0]
            return src + self._ffn(self.norm2(src))
        q = src + pos
        src = self.norm1(src + self.self_attn(q, q, value=src)[0])
        return self.norm2(src + self._ffn(src))


class DetrDecoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, pre_norm):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.pre_norm = pre_norm

    def _ffn(self, x):
        return self.linear2(F.relu(self.linear1(x)))

    def forward(self, tgt, memory, pos, query_pos, tgt_mask=None):
        key = memory + pos
        if self.pre_norm:
            x = self.norm1(tgt)
            tgt = tgt + self.self_attn(x + query_pos, x + query_pos, value=x, attn_mask=tgt_mask)[0]
            x = self.norm2(tgt)
            tgt = tgt + self.multihead_attn(query=x + query_pos, key=key, value=memory)[0]
            return tgt + self._ffn(self.norm3(tgt))
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.self_attn(q, q, value=tgt, attn_mask=tgt_mask)[0])
        tgt = self.norm2(tgt + self.multihead_attn(query=tgt + query_pos, key=key, value=memory)[0])
        return self.norm3(tgt + self._ffn(tgt))


class _Stack(nn.Module):
    def __init__(self, layer, num_layers, norm):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = norm


class DetrTransformer(nn.Module):
    def __init__(
        self, d_model=256, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048, pre_norm=False
    ):
        super().__init__()
        self.d_model, self.nhead = d_model, nhead
        self.encoder = _Stack(
            DetrEncoderLayer(d_model, nhead, dim_feedforward, pre_norm),
            num_encoder_layers,
            nn.LayerNorm(d_model) if pre_norm else None,
        )
        self.decoder = _Stack(
            DetrDecoderLayer(d_model, nhead, dim_feedforward, pre_norm), num_decoder_layers, nn.LayerNorm(d_model)
        )

    def encode(self, src, pos):
        for layer in self.encoder.layers:
            src = layer(src, pos)
        return self.encoder.norm(src) if self.encoder.norm is not None else src

    def decode(self, tgt, memory, pos, query_pos, tgt_mask=None):
        for layer in self.decoder.layers:
            tgt = layer(tgt, memory, pos, query_pos, tgt_mask)
        return self.decoder.norm(tgt)
