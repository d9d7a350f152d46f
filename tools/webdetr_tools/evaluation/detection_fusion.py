"""Fusing two detectors' outputs on one picture: the union of their detections, each source's scores scaled, with
same-class boxes that overlap (IoU >= iou) merged into one.

Why: v2b (CenterNet-taught DETR) and SSDLite miss different things; a union needs duplicate suppression across
sources or every object found by both is boxed twice.

Merge modes (all per class, highest score first; the kept detection keeps its score):
  "max"       greedy NMS (torchvision batched_nms): the higher-scored box survives as it is;
  "weighted"  greedy NMS, and the survivor's box becomes the score-weighted mean of the boxes it suppressed
              and itself (weighted box fusion, one round);
  "fast"      Fast NMS (YOLACT): over a fixed top-k, a box is dropped when any higher-scored same-class box
              overlaps it at >= iou, suppressed or not. No loop, so it runs as fixed-shape ONNX ops
              (TopK, pairwise IoU, a triangular mask, ReduceMax), unlike greedy NMS.

fuse(sources, scales, iou=0.5, mode="max", max_detections=100, top_k=200) -> (boxes, scores, labels)
  sources: [(boxes xyxy [n, 4], scores [n], labels [n])] numpy arrays, one per detector.
"""
from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import batched_nms, box_iou


def fuse(sources, scales, iou: float = 0.5, mode: str = "max", max_detections: int = 100, top_k: int = 200):
    boxes = torch.cat([torch.as_tensor(np.asarray(b, np.float32)).reshape(-1, 4) for b, _, _ in sources])
    scores = torch.cat(
        [torch.as_tensor(np.asarray(s, np.float32)) * scale for (_, s, _), scale in zip(sources, scales)]
    )
    labels = torch.cat([torch.as_tensor(np.asarray(c, np.int64)) for _, _, c in sources])
    if mode == "fast":
        keep = fast_nms(boxes, scores, labels, iou, top_k)
    else:
        keep = batched_nms(boxes, scores, labels, iou)
    keep = keep[:max_detections]
    kept_boxes = boxes[keep]
    if mode == "weighted" and len(keep):
        overlap = box_iou(kept_boxes, boxes) >= iou
        same = labels[keep][:, None] == labels[None, :]
        # members: boxes this survivor suppressed (same class, overlapping, not scoring higher)
        weight = (overlap & same & (scores[None, :] <= scores[keep][:, None])).float() * scores[None, :]
        kept_boxes = weight @ boxes / weight.sum(1, keepdim=True)
    return kept_boxes.numpy(), scores[keep].numpy(), labels[keep].numpy()


def fast_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float, top_k: int) -> torch.Tensor:
    """Indices kept by Fast NMS over the top_k scores, highest first."""
    order = scores.argsort(descending=True)[:top_k]
    b, c = boxes[order], labels[order]
    overlap = box_iou(b, b) * (c[:, None] == c[None, :])
    suppressed = overlap.triu(diagonal=1).max(0).values >= iou  # column j: any higher-scored i overlapping it
    return order[~suppressed]
