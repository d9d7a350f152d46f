"""v2b proposals: the CenterNet teacher's own detections (heat-map peaks + its box head), as CenterNet
decodes them (teacher.centernet_teacher.decode): a 3x3 max-pool keeps the local maxima of each class's
heat-map, the top K over classes x positions are the detections, each with the box (centre - left/top,
centre + right/bottom) of the wh head at its position. Two sources of the same maps:

- stride 4, the teacher's own output (TeacherNeck.graph taps 'heat_logits' and 'wh_head' at S/4): exact;
- stride 8, what the cached encoder level 8 carries (channels 192:272 the 2x2 max-pooled heat-map logits,
  272:276 the 2x2 avg-pooled wh head): no extra input, but adjacent peaks merge and a peak sits at the
  2x2 cell's centre with averaged sizes.

Everything here is graph-friendly (MaxPool, Equal, TopK, Gather; the browser graph can run it in front
of the decoder): no data-dependent shapes.

API
  peaks(heat_logits [B,C,H,W], wh [B,4,H,W] (pixels), stride, offset, size, k) -> Proposals
  from_level8(level8 [B,276,H,W], size, k) -> Proposals   (the cached stride-8 maps)
  from_teacher(heat_logits, wh_head, size, k) -> Proposals (the stride-4 maps, raw graph outputs)
  Proposals: boxes [B,K,4] normalised cxcywh (clamped into the image), labels [B,K] (class index),
      logit [B,K] (the heat-map logit of that class there: score = sigmoid), class_logits [B,K,C] (all
      classes' heat-map logits at the position), position [B,K] (row-major index in the H x W grid),
      grid (H, W)
  to_rows(p, width, height) -> per image (boxes xyxy px, scores, labels) like teacher decode
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .neck import WH_SCALE

HEAT = slice(192, 272)
WH = slice(272, 276)


@dataclass
class Proposals:
    boxes: torch.Tensor
    labels: torch.Tensor
    logit: torch.Tensor
    class_logits: torch.Tensor
    position: torch.Tensor
    grid: tuple[int, int]


def peaks(heat_logits, wh, stride: float, offset: float, size: int, k: int) -> Proposals:
    b, c, h, w = heat_logits.shape
    pooled = F.max_pool2d(heat_logits, 3, stride=1, padding=1)
    # suppressed positions get -inf-like logits; a logit is kept where it is its 3x3 class maximum
    masked = torch.where(heat_logits == pooled, heat_logits, torch.full_like(heat_logits, -1e4))
    flat = masked.permute(0, 2, 3, 1).reshape(b, -1)  # NHWC order, as teacher decode
    logit, index = flat.topk(k, dim=1)
    labels = index % c
    position = torch.div(index, c, rounding_mode="floor")
    x = (position % w).to(wh.dtype) * stride + offset
    y = torch.div(position, w, rounding_mode="floor").to(wh.dtype) * stride + offset
    sizes = torch.gather(wh.flatten(2).transpose(1, 2), 1, position[..., None].expand(-1, -1, 4))
    x0, y0 = (x - sizes[..., 0]).clamp(0, size), (y - sizes[..., 1]).clamp(0, size)
    x1, y1 = (x + sizes[..., 2]).clamp(0, size), (y + sizes[..., 3]).clamp(0, size)
    boxes = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1) / size
    class_logits = torch.gather(heat_logits.flatten(2).transpose(1, 2), 1, position[..., None].expand(-1, -1, c))
    return Proposals(boxes, labels, logit, class_logits, position, (h, w))


def from_level8(level8, size: int, k: int) -> Proposals:
    """Cell centre: the 2x2 block of stride-4 positions 2x, 2x+1 sits at pixels 8x and 8x+4 -> 8x + 2."""
    return peaks(level8[:, HEAT], level8[:, WH] * WH_SCALE, 8.0, 2.0, size, k)


def from_teacher(heat_logits, wh_head, size: int, k: int) -> Proposals:
    return peaks(heat_logits, wh_head * WH_SCALE, 4.0, 0.0, size, k)


def to_rows(p: Proposals, sizes):
    out = []
    for i, (width, height) in enumerate(sizes):
        cx, cy, w, h = p.boxes[i].unbind(-1)
        xyxy = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1) * torch.tensor(
            [width, height, width, height], dtype=p.boxes.dtype
        )
        out.append((xyxy.numpy(), p.logit[i].sigmoid().numpy(), p.labels[i].numpy()))
    return out
