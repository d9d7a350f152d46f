"""COCO-style average precision, written by us (no pycocotools here), following the COCO protocol:

- per class, detections (up to `max_detections` per image, best first) are matched greedily in
  descending score order to the unmatched ground truth of the same image with the highest IoU at or
  above the threshold;
- precision is made monotone (max to the right) and sampled at 101 recall points 0, 0.01, ..., 1;
- AP is the mean over classes that have ground truth; AP@[.5:.95] averages thresholds
  0.50, 0.55, ..., 0.95; AP50 is the 0.5 threshold alone.
Boxes are continuous xyxy (COCO's IoU has no +1 pixel term).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass
class ImageResult:
    gt_boxes: np.ndarray  # [G, 4]
    gt_labels: np.ndarray  # [G] ints
    boxes: np.ndarray  # [D, 4]
    scores: np.ndarray  # [D]
    labels: np.ndarray  # [D]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _class_ap(results: list[ImageResult], cls: int, threshold: float, max_detections: int) -> float | None:
    scored = []  # (score, image index, detection index)
    n_gt = 0
    for i, r in enumerate(results):
        n_gt += int((r.gt_labels == cls).sum())
        top = np.argsort(-r.scores, kind="stable")[:max_detections]
        for d in top:
            if r.labels[d] == cls:
                scored.append((-float(r.scores[d]), i, int(d)))
    if n_gt == 0:
        return None
    scored.sort(key=lambda t: (t[0], t[1], t[2]))
    matched = {i: np.zeros(int((r.gt_labels == cls).sum()), bool) for i, r in enumerate(results)}
    tp = np.zeros(len(scored))
    for k, (_, i, d) in enumerate(scored):
        r = results[i]
        gts = r.gt_boxes[r.gt_labels == cls]
        if len(gts) == 0:
            continue
        ious = box_iou(r.boxes[d], gts)[0]
        ious[matched[i]] = -1
        best = int(np.argmax(ious))
        if ious[best] >= threshold:
            matched[i][best] = True
            tp[k] = 1
    if not scored:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(scored) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    sampled = np.zeros(len(RECALL_POINTS))
    positions = np.searchsorted(recall, RECALL_POINTS, side="left")
    valid = positions < len(precision)
    sampled[valid] = precision[positions[valid]]
    return float(sampled.mean())


def evaluate(results: list[ImageResult], max_detections: int = 100) -> dict[str, float]:
    """Returns {'AP': AP@[.5:.95], 'AP50': ..., 'AP75': ...} as fractions in [0, 1]."""
    classes = sorted({int(c) for r in results for c in r.gt_labels})
    per_threshold = []
    for t in IOU_THRESHOLDS:
        aps = [_class_ap(results, c, float(t), max_detections) for c in classes]
        aps = [a for a in aps if a is not None]
        per_threshold.append(float(np.mean(aps)) if aps else float("nan"))
    return {"AP": float(np.mean(per_threshold)), "AP50": per_threshold[0], "AP75": per_threshold[5]}
