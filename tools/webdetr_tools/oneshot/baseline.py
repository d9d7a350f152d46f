"""One-shot baseline: sliding-window cosine similarity of frozen backbone features.

Query descriptor (per tap: strides 8/16/32, 96/88/480 channels), two modes:
- 'roi' (default): the mean of the query image's cached feature maps over the cells the query box
  covers (same scale domain as the windows);
- 'crop': the UP-DETR patch descriptor (patches.py: PIL crop -> 128x128 -> backbone -> GAP per tap).
Target: the cached maps of the target image, each tap upsampled (nearest) to the stride-8 grid
(40x40 at input 320) and concatenated. Windows: sizes = the query box's size (relative to its image)
times scales (0.5, 0.71, 1, 1.41, 2) and aspect factors (0.67, 1, 1.5), at every grid cell; a window's
descriptor is the mean over its cells (summed-area table). Score = mean over taps of the cosine
similarity between window and query (so each tap weighs the same whatever its width), in [-1, 1] and
comparable across images. Greedy NMS at IoU 0.3 (0.5 measured worse: windows shifted by half a box
survive it), best `max_detections` kept. Optional centring (subtract a mean feature first) measured worse.

API
  grid_features(levels [C_l, h_l, w_l] list) -> [sum C_l, H0, W0] on the finest tap's grid
  roi_descriptor(grid, box_norm xyxy in [0,1]) -> [C]
  detect(grid, query_vec, channels, query_wh_norm, scales, aspects, max_detections, nms_iou)
      -> (boxes_norm [D,4] xyxy, scores [D])
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.ops import nms

from .patches import level_slices

SCALES = (0.5, 1 / math.sqrt(2), 1.0, math.sqrt(2), 2.0)
ASPECTS = (2 / 3, 1.0, 1.5)


def grid_features(levels) -> torch.Tensor:
    h, w = levels[0].shape[-2:]
    return torch.cat(
        [
            lvl if lvl.shape[-2:] == (h, w) else F.interpolate(lvl[None], size=(h, w), mode="nearest")[0]
            for lvl in levels
        ],
        0,
    )


def _integral(grid: torch.Tensor) -> torch.Tensor:
    return F.pad(grid.double().cumsum(1).cumsum(2), (1, 0, 1, 0))


def _cells(lo: float, hi: float, n: int) -> tuple[int, int]:
    a = min(max(int(math.floor(lo * n + 0.5)), 0), n - 1)
    b = max(min(int(math.floor(hi * n + 0.5)), n), a + 1)
    return a, b


def roi_descriptor(grid: torch.Tensor, box_norm) -> torch.Tensor:
    _, h, w = grid.shape
    x0, x1 = _cells(box_norm[0], box_norm[2], w)
    y0, y1 = _cells(box_norm[1], box_norm[3], h)
    return grid[:, y0:y1, x0:x1].mean(dim=(1, 2))


def _normalized_parts(x: torch.Tensor, slices, dim: int) -> torch.Tensor:
    return torch.cat([F.normalize(x.narrow(dim, s.start, s.stop - s.start), dim=dim) for s in slices], dim)


def detect(
    grid,
    query_vec,
    channels,
    query_wh_norm,
    scales=SCALES,
    aspects=ASPECTS,
    max_detections: int = 20,
    nms_iou: float = 0.3,
    center=None,
):
    """center: a [C] vector subtracted from the query and from every window before the cosine."""
    c, h, w = grid.shape
    slices = level_slices(channels)
    if center is not None:
        grid, query_vec = grid - center[:, None, None], query_vec - center
    q = _normalized_parts(query_vec.double(), slices, 0) / len(slices)
    integral = _integral(grid)
    sizes = set()
    for s in scales:
        for a in aspects:
            ww = query_wh_norm[0] * s * math.sqrt(a) * w
            hh = query_wh_norm[1] * s / math.sqrt(a) * h
            sizes.add((min(max(int(round(hh)), 1), h), min(max(int(round(ww)), 1), w)))
    boxes, scores = [], []
    for hh, ww in sorted(sizes):
        sums = integral[:, hh:, ww:] - integral[:, :-hh, ww:] - integral[:, hh:, :-ww] + integral[:, :-hh, :-ww]
        means = _normalized_parts(sums / (hh * ww), slices, 0)  # [C, h-hh+1, w-ww+1]
        score = torch.einsum("c,cyx->yx", q, means)
        ys, xs = torch.meshgrid(torch.arange(score.shape[0]), torch.arange(score.shape[1]), indexing="ij")
        boxes.append(torch.stack([xs / w, ys / h, (xs + ww) / w, (ys + hh) / h], -1).reshape(-1, 4))
        scores.append(score.reshape(-1))
    boxes, scores = torch.cat(boxes).float(), torch.cat(scores).float()
    keep = nms(boxes, scores, nms_iou)[:max_detections]
    return boxes[keep], scores[keep]
