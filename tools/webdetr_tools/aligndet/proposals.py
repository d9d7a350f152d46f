"""Unsupervised box proposals (AlignDet's pseudo boxes): selective search on a graph-based segmentation.

Why: AlignDet pretrains the whole detector on class-agnostic proposals (selective search in the paper).
Selective search starts from Felzenszwalb-Huttenlocher segments and greedily merges neighbours
(grouping.py); here on the image resized so its long side is `long_side` px (the detector sees 320x320),
at a few Felzenszwalb scales (one hierarchy each, RGB only; the paper also varies colour spaces).

grouping: "hierarchy" (default) = the full greedy hierarchy, ranked as selective search (region number x
seeded uniform draw, score = 1 / (1 + that)); "pairs" = segments + boxes of adjacent segment pairs, ranked
by compactness (segment pixels / box area); "none" = segments only, by compactness. Measured on 24 labelled
images (12 raccoon + 12 coco128, 66 boxes), recall at IoU 0.5 of the top 10 / 20 / 40: hierarchy
0.35 / 0.39 / 0.45, pairs 0.11 / 0.15 / 0.21; ~0.6 CPU-s per image either way.
Filters, in units of the image side: both sides >= min_side, box area in [min_area, max_area] of the
image, aspect ratio <= max_aspect. Then NMS at nms_iou (best ranked first), at most max_per_image boxes.

API
  DEFAULTS: dict of the parameters below (tools/experiments/proposals.py records the ones used)
  propose(rgb [H, W, 3] uint8, rng=None (RandomState, default seed 0), **params) -> (boxes xyxy [N, 4]
      float32 in source-image pixels, scores [N] float32), best first
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from skimage.segmentation import felzenszwalb
from torchvision.ops import nms

from .grouping import adjacent_pairs, hierarchical_grouping, segment_boxes

DEFAULTS = dict(
    long_side=320,
    scales=(100, 300, 800),
    sigma=0.8,
    min_size_ratio=0.25,
    grouping="hierarchy",
    min_side=0.05,
    min_area=0.004,
    max_area=0.9,
    max_aspect=4.0,
    nms_iou=0.6,
    max_per_image=40,
)


def _candidates(dense: np.ndarray, merge: bool) -> tuple[np.ndarray, np.ndarray]:
    boxes, counts = segment_boxes(dense)
    if merge:
        pairs = adjacent_pairs(dense)
        if len(pairs):
            a, b = boxes[pairs[:, 0]], boxes[pairs[:, 1]]
            merged = np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], -1)
            boxes = np.concatenate([boxes, merged])
            counts = np.concatenate([counts, counts[pairs[:, 0]] + counts[pairs[:, 1]]])
    return boxes, counts


def propose(rgb: np.ndarray, rng: np.random.RandomState | None = None, **params) -> tuple[np.ndarray, np.ndarray]:
    p = {**DEFAULTS, **params}
    rng = rng if rng is not None else np.random.RandomState(0)
    height, width = rgb.shape[:2]
    ratio = p["long_side"] / max(height, width)
    w, h = max(1, round(width * ratio)), max(1, round(height * ratio))
    small = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((w, h), Image.BILINEAR))
    boxes, scores = [], []
    for scale in p["scales"]:
        labels = felzenszwalb(small, scale=scale, sigma=p["sigma"], min_size=max(1, int(scale * p["min_size_ratio"])))
        _, dense = np.unique(labels, return_inverse=True)  # ids 0..S-1
        dense = dense.reshape(labels.shape)
        if p["grouping"] == "hierarchy":
            b, rank = hierarchical_grouping(small, dense, rng)
            s = 1.0 / (1.0 + rank)
        else:
            b, pixels = _candidates(dense, p["grouping"] == "pairs")
            s = pixels / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        boxes.append(b)
        scores.append(s)
    boxes, scores = np.concatenate(boxes), np.concatenate(scores).astype(np.float32)
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = bw * bh / (w * h)
    keep = (
        (bw >= p["min_side"] * w)
        & (bh >= p["min_side"] * h)
        & (area >= p["min_area"])
        & (area <= p["max_area"])
        & (np.maximum(bw / bh, bh / bw) <= p["max_aspect"])
    )
    boxes, scores = boxes[keep], scores[keep]
    if len(boxes):
        # the same box from several scales / levels: NMS keeps the best ranked one
        order = nms(torch.from_numpy(boxes), torch.from_numpy(scores), p["nms_iou"]).numpy()[: p["max_per_image"]]
        boxes, scores = boxes[order], scores[order]
    scale_back = np.array([width / w, height / h, width / w, height / h], np.float32)
    return (boxes * scale_back).astype(np.float32).reshape(-1, 4), scores.astype(np.float32)
