"""Proposal verifier (detector v3v): a linear class check on each SSDLite proposal's box, read from SSDLite's own
MobileNetV2 features, added to the proposal's logit before the decoder's residual.

Why (README-detector-v2.md section 10): v3d's misses on the "first photos" are class mistakes on plainly
localised objects (an oystercatcher's box says dog 0.76 over bird 0.51), and retraining the whole detector with
more class supervision did not move its 128-d class head (section 9). The verifier instead reads the box's average
of the 19x19 (576 ch) and 10x10 (1280 ch) taps, the ImageNet-pretrained features SSDLite classifies from, plus the
anchor's 80 SSDLite scores, and says how much to trust the proposal's class. The rest of the model is frozen: the
final logit is v3d's plus this delta, so it changes scores and ranks, never boxes. Measured in section 10 in three
forms: none beats v3d, and no shipped package carries a verifier.

Everything is graph-friendly (Min, Max, Clip, MatMul, Gather): the package's encoder_input graph runs it where it
makes the proposals, so prop_base carries the verified logit and the other graphs are v3d's.

API
  box_pool_weights(boxes [B,K,4] cxcywh 0-1, grid) -> [B,K,grid*grid]: each cell's share of the box's area (a box
      narrower than a cell is widened to one cell about its centre, so every box reads something)
  pool(tap [B,C,g,g], weights) -> [B,K,C]
  proposal_features(taps, proposals) -> [B,K,F]: the pooled taps and the anchor's 80 scores
  ProposalVerifier(channels=(576, 1280), num_classes=80, mode="logit"): forward(taps, proposals) -> delta [B,K]
      for each proposal's own class ("logit": the linear layer's output; "class_posterior": scale x (log of its
      softmax - log of the softmax of the anchor's 80 SSDLite logits); "veto": -softplus of it, so it can only
      lower a proposal's score); features(taps, proposals) -> [B,K,F] the inputs of its linear layer
  verified(proposals, delta, suppressed_logit) -> Proposals with logit + delta (slots Fast NMS suppressed stay put)
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn


def box_pool_weights(boxes: torch.Tensor, grid: int) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    w, h = w.clamp(min=1.0 / grid), h.clamp(min=1.0 / grid)
    lo = torch.arange(grid, dtype=boxes.dtype, device=boxes.device) / grid
    hi = lo + 1.0 / grid

    def overlap(a, b):  # [B,K] box edges -> [B,K,grid] covered length of each cell
        a = a.clamp(0, 1)[..., None]
        b = b.clamp(0, 1)[..., None]
        return (torch.minimum(b, hi) - torch.maximum(a, lo)).clamp(min=0)

    ox, oy = overlap(cx - w / 2, cx + w / 2), overlap(cy - h / 2, cy + h / 2)
    area = oy[..., :, None] * ox[..., None, :]
    area = area.flatten(-2)
    return area / (area.sum(-1, keepdim=True) + 1e-12)


def pool(tap: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return torch.matmul(weights, tap.flatten(2).transpose(1, 2))


def proposal_features(taps, proposals) -> torch.Tensor:
    """[B,K,F]: each tap averaged over each proposal's box, then the anchor's 80 SSDLite scores."""
    pooled = [pool(t, box_pool_weights(proposals.boxes, t.shape[-1])) for t in taps]
    return torch.cat([*pooled, proposals.class_logits.sigmoid()], -1)


MODES = ("logit", "class_posterior", "veto")
VETO_BIAS = -6.0  # veto starts at -softplus(-6) = -0.0025: next to nothing, with a gradient


class ProposalVerifier(nn.Module):
    def __init__(self, channels=(576, 1280), num_classes: int = 80, mode: str = "logit"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"verifier mode {mode!r}: one of {MODES}")
        self.channels, self.mode = tuple(channels), mode
        self.linear = nn.Linear(sum(self.channels) + num_classes, num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        if mode == "veto":
            nn.init.constant_(self.linear.bias, VETO_BIAS)
        # class_posterior: delta = scale * (log q(c) - log s(c)), q the linear layer's softmax over classes, s the
        # anchor's SSDLite logits' softmax: the box's class posterior swapped, its objectness kept (scale 0: none)
        self.scale = nn.Parameter(torch.zeros(()), requires_grad=False)

    def features(self, taps, proposals) -> torch.Tensor:
        if len(taps) != len(self.channels):
            raise ValueError(f"verifier reads {len(self.channels)} taps, got {len(taps)}")
        return proposal_features(taps, proposals)

    def forward(self, taps, proposals) -> torch.Tensor:
        z = self.linear(self.features(taps, proposals))
        if self.mode == "class_posterior":
            z = self.scale * (torch.log_softmax(z, -1) - torch.log_softmax(proposals.class_logits, -1))
        elif self.mode == "veto":
            z = -softplus(z)
        return torch.gather(z, 2, proposals.labels[..., None])[..., 0]


def softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(z)) in basic ops (Relu, Abs, Exp, Log), finite for any z: no Softplus node in the graph."""
    return torch.relu(z) + torch.log(1 + torch.exp(-z.abs()))


def verified(proposals, delta: torch.Tensor, suppressed_logit: float):
    # a slot Fast NMS suppressed holds suppressed_logit; it stays there (Greater, not Equal: see ssd_proposals.py)
    live = (proposals.logit > suppressed_logit + 0.5).to(delta.dtype)
    return replace(proposals, logit=proposals.logit + delta * live)
