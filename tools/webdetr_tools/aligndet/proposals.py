"""Unsupervised box proposals (AlignDet's pseudo boxes) from a graph-based segmentation.

Why: AlignDet pretrains the whole detector on class-agnostic proposals (selective search in the paper).
Selective search starts from Felzenszwalb-Huttenlocher segments and greedily merges neighbours; we keep
its first two levels, cheap and deterministic: every segment's bounding box at a few scales, plus the
box of every pair of adjacent segments (one merge step), on the image resized so its long side is
`long_side` px (the detector sees 320x320).

Ranking (selective search has no score): compactness = segment pixels / box area, so a box that its
segment(s) fill (an object-like blob) beats a box around a thin, sprawling region. Filters, in units of
the image side: both sides >= min_side, box area in [min_area, max_area] of the image, aspect ratio
<= max_aspect. Then NMS at nms_iou (best compactness first) and at most max_per_image boxes.

API
  DEFAULTS: dict of the parameters below (tools/proposals.py records the ones used)
  segment_boxes(labels [H, W] int) -> (boxes xyxy [S, 4] in pixels, pixel counts [S])
  adjacent_pairs(labels [H, W]) -> [P, 2] int pairs of 4-connected distinct segments (a < b)
  propose(rgb [H, W, 3] uint8, **params) -> (boxes xyxy [N, 4] float32 in source-image pixels,
      scores [N] float32 compactness), best first
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from skimage.segmentation import felzenszwalb
from torchvision.ops import nms

DEFAULTS = dict(long_side=320, scales=(100, 300, 800), sigma=0.8, min_size_ratio=0.25, merge_neighbours=True,
                min_side=0.05, min_area=0.004, max_area=0.9, max_aspect=4.0, nms_iou=0.6, max_per_image=40)


def segment_boxes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    n = int(labels.max()) + 1
    ys, xs = np.indices(labels.shape)
    flat = labels.ravel()
    x0 = np.full(n, np.inf)
    y0 = np.full(n, np.inf)
    x1 = np.full(n, -np.inf)
    y1 = np.full(n, -np.inf)
    np.minimum.at(x0, flat, xs.ravel())
    np.minimum.at(y0, flat, ys.ravel())
    np.maximum.at(x1, flat, xs.ravel() + 1)  # pixel (x, y) covers [x, x+1) x [y, y+1)
    np.maximum.at(y1, flat, ys.ravel() + 1)
    counts = np.bincount(flat, minlength=n)
    present = counts > 0
    return np.stack([x0, y0, x1, y1], -1)[present].astype(np.float32), counts[present].astype(np.float32)


def adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        differ = a != b
        pairs.append(np.stack([np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])], -1))
    pairs = np.concatenate(pairs).reshape(-1, 2)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.astype(np.int64)


def _candidates(labels: np.ndarray, merge: bool) -> tuple[np.ndarray, np.ndarray]:
    # relabel to 0..S-1 so segment_boxes' rows line up with segment ids
    _, dense = np.unique(labels, return_inverse=True)
    dense = dense.reshape(labels.shape)
    boxes, counts = segment_boxes(dense)
    if merge:
        pairs = adjacent_pairs(dense)
        if len(pairs):
            a, b = boxes[pairs[:, 0]], boxes[pairs[:, 1]]
            merged = np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], -1)
            boxes = np.concatenate([boxes, merged])
            counts = np.concatenate([counts, counts[pairs[:, 0]] + counts[pairs[:, 1]]])
    return boxes, counts


def propose(rgb: np.ndarray, **params) -> tuple[np.ndarray, np.ndarray]:
    p = {**DEFAULTS, **params}
    height, width = rgb.shape[:2]
    ratio = p["long_side"] / max(height, width)
    w, h = max(1, round(width * ratio)), max(1, round(height * ratio))
    small = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((w, h), Image.BILINEAR))
    boxes, pixels = [], []
    for scale in p["scales"]:
        labels = felzenszwalb(small, scale=scale, sigma=p["sigma"], min_size=max(1, int(scale * p["min_size_ratio"])))
        b, c = _candidates(labels, p["merge_neighbours"])
        boxes.append(b)
        pixels.append(c)
    boxes, pixels = np.concatenate(boxes), np.concatenate(pixels)
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = bw * bh / (w * h)
    keep = ((bw >= p["min_side"] * w) & (bh >= p["min_side"] * h) & (area >= p["min_area"]) & (area <= p["max_area"])
            & (np.maximum(bw / bh, bh / bw) <= p["max_aspect"]))
    boxes, scores = boxes[keep], (pixels[keep] / (bw[keep] * bh[keep])).astype(np.float32)
    if len(boxes):
        # identical boxes from several scales: NMS keeps the most compact one
        order = nms(torch.from_numpy(boxes), torch.from_numpy(scores), p["nms_iou"]).numpy()[:p["max_per_image"]]
        boxes, scores = boxes[order], scores[order]
    scale_back = np.array([width / w, height / h, width / w, height / h], np.float32)
    return (boxes * scale_back).astype(np.float32).reshape(-1, 4), scores.astype(np.float32)
