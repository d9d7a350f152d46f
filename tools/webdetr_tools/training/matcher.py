"""Hungarian matching of predictions to targets, Deformable-DETR's cost (focal class cost + L1 + GIoU).

API: hungarian_match(logits [B,Q,C], boxes [B,Q,4] cxcywh, targets [{'labels' [G] long, 'boxes' [G,4]
cxcywh}], cost_class=2, cost_bbox=5, cost_giou=2, alpha=0.25, gamma=2) -> per image (pred idx, target idx)
int64 tensors, min(Q, G) pairs, ordered by prediction index. Solved with scipy's linear_sum_assignment.
"""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .boxes import cxcywh_to_xyxy, generalized_box_iou


@torch.no_grad()
def cost_matrix(
    logits, boxes, labels, target_boxes, cost_class=2.0, cost_bbox=5.0, cost_giou=2.0, alpha=0.25, gamma=2.0
):
    """One image: logits [Q,C], boxes [Q,4], labels [G], target_boxes [G,4] -> [Q, G]."""
    prob = logits.sigmoid()
    neg = (1 - alpha) * prob**gamma * -(1 - prob + 1e-8).log()
    pos = alpha * (1 - prob) ** gamma * -(prob + 1e-8).log()
    c_class = pos[:, labels] - neg[:, labels]
    c_bbox = torch.cdist(boxes, target_boxes, p=1)
    c_giou = -generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(target_boxes))
    return cost_bbox * c_bbox + cost_class * c_class + cost_giou * c_giou


@torch.no_grad()
def hungarian_match(logits, boxes, targets, cost_class=2.0, cost_bbox=5.0, cost_giou=2.0, alpha=0.25, gamma=2.0):
    out = []
    for b, target in enumerate(targets):
        if len(target["labels"]) == 0:
            empty = torch.zeros(0, dtype=torch.int64)
            out.append((empty, empty))
            continue
        c = cost_matrix(
            logits[b], boxes[b], target["labels"], target["boxes"], cost_class, cost_bbox, cost_giou, alpha, gamma
        )
        rows, cols = linear_sum_assignment(c.numpy())
        out.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
    return out
