"""Learned one-shot ranking head on the CenterNet teacher (issue 26, "plan for v2"): the teacher's class-agnostic
heat-map peaks stay the proposals (`teacher_embed.proposals`); a small head scores each proposal against the
dragged patch from their RoIAlign-pooled teacher features, trained with a per-query listwise loss.

Input features (`head_input`): mean RoIAlign (4x4 samples) of the taps neck4, neck8, neck16, c5 and the heat-map
probabilities, each centred by the fixed mean feature of unrelated photos and L2-normalised, concatenated (128 +
192 + 256 + 480 + 80 = 1,136 numbers). Per-tap normalisation keeps the taps' weights equal whatever their width,
as in the training-free score, so its cosines are the slices' dot products.

Geometry (`pair_geometry`, boxes in the 512 x 512 stretched input, so relative to each picture): log objectness,
log area and aspect ratios to the patch, the proposal's log relative area, the IoU and the two intersection
fractions with the patch (0 in another picture), a same-picture flag. The intersection terms let the head learn
that parts of the patch's own object and boxes around it are not answers (the hand rule's job before).

RankHead: a shared projection (1,136 -> 256 -> 128, L2-normalised) of patch q and proposal p; a relation MLP on
[q, p, q*p, |q-p|, per-tap cosines of the inputs, geometry] -> 256 -> 1 score; optionally 4 box deltas from the
proposal's own projection (class-agnostic refinement). Scores are logits against a fixed "none of these" slot at
0 (`listwise_loss`), so they compare across pictures: the protocol ranks all pairs of a class together.

listwise_loss: per (query, target picture) group, a softmax over [none, its valid proposals]; the target
distribution is uniform over the positives (proposals with IoU >= 0.5 to another instance of the patch's class),
or all on "none" when the picture holds none. Padded / ignored proposals (valid = False) take no part.

API
  TAPS, TAP_DIMS, IN_DIM, GEOMETRY
  head_input(maps, boxes [N,4] input px, center {tap: [C]}) -> [N, IN_DIM]
  pair_geometry(patch [4] input px, boxes [N,4] input px, objectness [N], same_picture: bool, size=512) -> [N, GEOMETRY]
  RankHead(in_dim, hidden, embed, rel_hidden, refine)(q [B,D], p [B,N,D], geometry [B,N,G]) -> scores [B,N]
      (, deltas [B,N,4] when refine)
  listwise_loss(scores [B,N], positive [B,N] bool, valid [B,N] bool) -> scalar
  calibration_loss(scores, positive, valid) -> scalar: negatives below the "none" slot, positives above it
  encode_deltas(boxes, targets) / decode_deltas(boxes, deltas): (dx, dy, log dw, log dh) as in Faster R-CNN
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .teacher_embed import embed

TAPS = ("neck4", "neck8", "neck16", "c5", "heatp")
TAP_DIMS = (128, 192, 256, 480, 80)
IN_DIM = sum(TAP_DIMS)
GEOMETRY = 8
_DELTA_CLAMP = math.log(1000.0 / 16)


def head_input(maps: dict, boxes: torch.Tensor, center: dict) -> torch.Tensor:
    """maps: the teacher's taps (with 'heatp' = sigmoid(heat)); boxes in input pixels."""
    e = embed(maps, boxes.float(), TAPS, "mean", center=center)
    return torch.cat([e[t] for t in TAPS], 1)


def _box_overlaps(boxes: torch.Tensor, patch: torch.Tensor):
    lower = torch.maximum(boxes[..., :2], patch[..., :2])
    inter_wh = (torch.minimum(boxes[..., 2:], patch[..., 2:]) - lower).clamp(min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    area = (boxes[..., 2] - boxes[..., 0]).clamp(min=1e-6) * (boxes[..., 3] - boxes[..., 1]).clamp(min=1e-6)
    patch_area = ((patch[..., 2] - patch[..., 0]) * (patch[..., 3] - patch[..., 1])).clamp(min=1e-6)
    return inter / (area + patch_area - inter), inter / area, inter / patch_area


def pair_geometry(patch, boxes, objectness, same_picture: bool, size: float = 512.0) -> torch.Tensor:
    patch = torch.as_tensor(patch, dtype=torch.float32) / size
    b = boxes.float() / size
    bw, bh = (b[:, 2] - b[:, 0]).clamp(min=1e-3), (b[:, 3] - b[:, 1]).clamp(min=1e-3)
    qw, qh = (patch[2] - patch[0]).clamp(min=1e-3), (patch[3] - patch[1]).clamp(min=1e-3)
    columns = [
        objectness.float().clamp(min=1e-4).log(),
        (bw * bh / (qw * qh)).log(),
        ((bw / bh) / (qw / qh)).log(),
        (bw * bh).log(),
    ]
    if same_picture:
        columns += list(_box_overlaps(b, patch[None]))
    else:
        columns += [torch.zeros_like(bw)] * 3
    columns.append(torch.full_like(bw, float(same_picture)))
    return torch.stack(columns, -1)


def _tap_cosines(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """q [B,D], p [B,N,D] (per-tap L2-normalised slices) -> [B,N,len(TAPS)]."""
    out, start = [], 0
    for d in TAP_DIMS:
        out.append(torch.einsum("bd,bnd->bn", q[:, start : start + d], p[..., start : start + d]))
        start += d
    return torch.stack(out, -1)


class RankHead(nn.Module):
    def __init__(
        self,
        in_dim=IN_DIM,
        hidden=256,
        embed_dim=128,
        rel_hidden=256,
        refine=False,
        dropout=0.1,
        prior=False,
        project=True,
    ):
        super().__init__()
        # project=False: no learned embedding, the relation MLP sees only the per-tap cosines and the geometry (a
        # re-weighting of the training-free score's parts, which cannot learn the training classes' features)
        self.use_projection = project
        # prior: start from the training-free score (mean cosine of the four neck taps + 0.1 log objectness, x10
        # for a softmax temperature) and learn a correction on top, so the head begins where the lead is
        self.prior = nn.Parameter(torch.tensor([10.0, 1.0])) if prior else None
        self.project = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim)
        )
        cos = len(TAPS) if in_dim == IN_DIM else 0
        self.relation = nn.Sequential(
            nn.Linear((4 * embed_dim if project else 0) + cos + GEOMETRY, rel_hidden),
            nn.ReLU(),
            nn.Linear(rel_hidden, 1),
        )
        if not project:
            self.project = None
        if prior:  # step 0 is exactly the training-free score
            nn.init.zeros_(self.relation[-1].weight)
            nn.init.zeros_(self.relation[-1].bias)
        self.refine = nn.Linear(embed_dim, 4) if refine and project else None
        if self.refine is not None:
            nn.init.zeros_(self.refine.weight)
            nn.init.zeros_(self.refine.bias)
        self.in_dim = in_dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.project(x), dim=-1)

    def forward(self, q, p, geometry, p_embedded=None):
        """q [B,D] patch features, p [B,N,D] proposal features, geometry [B,N,G]; p_embedded: optional
        precomputed self.embed(p) (one picture's proposals serve many queries)."""
        parts, pe = [], None
        if self.use_projection:
            qe = self.embed(q)
            pe = self.embed(p) if p_embedded is None else p_embedded
            qx = qe[:, None].expand_as(pe)
            parts = [qx, pe, qx * pe, (qx - pe).abs()]
        cosines = _tap_cosines(q, p) if self.in_dim == IN_DIM else None
        if cosines is not None:
            parts.append(cosines)
        parts.append(geometry)
        scores = self.relation(torch.cat(parts, -1))[..., 0]
        if self.prior is not None:
            cos = cosines[..., :4].mean(-1)  # neck4, neck8, neck16, c5
            scores = scores + self.prior[0] * cos + self.prior[1] * geometry[..., 0]
        if self.refine is None:
            return scores
        return scores, self.refine(pe)


def listwise_loss(scores: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    positive = positive & valid
    logits = torch.cat([torch.zeros_like(scores[:, :1]), scores.masked_fill(~valid, float("-inf"))], 1)
    log_p = torch.log_softmax(logits, 1)
    count = positive.sum(1, keepdim=True)
    target = torch.cat([(count == 0).float(), positive.float() / count.clamp(min=1)], 1)
    return -(target * log_p.masked_fill(target == 0, 0.0)).sum(1).mean()


def calibration_loss(scores: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The listwise loss only orders a picture's proposals: in a picture with positives its negatives may sit
    above 0 and outrank another picture's positives, while the protocol ranks all pairs of a class together. This
    term asks every group for "none" above its negatives (log(1 + sum exp(negatives))) and every positive above
    "none" (mean softplus(-positive))."""
    positive = positive & valid
    negative = valid & ~positive
    neg = torch.nn.functional.softplus(torch.logsumexp(scores.masked_fill(~negative, float("-inf")), 1))
    neg = torch.where(negative.any(1), neg, torch.zeros_like(neg))
    pos = (torch.nn.functional.softplus(-scores) * positive).sum(1) / positive.sum(1).clamp(min=1)
    return (neg + pos).mean()


def encode_deltas(boxes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    w, h = (boxes[..., 2] - boxes[..., 0]).clamp(min=1), (boxes[..., 3] - boxes[..., 1]).clamp(min=1)
    tw, th = (targets[..., 2] - targets[..., 0]).clamp(min=1), (targets[..., 3] - targets[..., 1]).clamp(min=1)
    dx = ((targets[..., 0] + targets[..., 2]) - (boxes[..., 0] + boxes[..., 2])) / 2 / w
    dy = ((targets[..., 1] + targets[..., 3]) - (boxes[..., 1] + boxes[..., 3])) / 2 / h
    return torch.stack([dx, dy, (tw / w).log(), (th / h).log()], -1)


def decode_deltas(boxes: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    w, h = (boxes[..., 2] - boxes[..., 0]).clamp(min=1), (boxes[..., 3] - boxes[..., 1]).clamp(min=1)
    cx = (boxes[..., 0] + boxes[..., 2]) / 2 + deltas[..., 0] * w
    cy = (boxes[..., 1] + boxes[..., 3]) / 2 + deltas[..., 1] * h
    nw = w * deltas[..., 2].clamp(max=_DELTA_CLAMP).exp()
    nh = h * deltas[..., 3].clamp(max=_DELTA_CLAMP).exp()
    return torch.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], -1)
