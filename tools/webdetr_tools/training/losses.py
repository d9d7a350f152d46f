"""Deformable-DETR's set loss: sigmoid focal classification + L1 + GIoU on matched boxes, for every decoder
layer (auxiliary losses), normalized by the number of target boxes (at least 1).

API
  sigmoid_focal_loss(logits, targets_onehot, num_boxes, alpha=0.25, gamma=2) -> scalar
      (mean over queries, summed, / num_boxes: the official normalization)
  set_loss(layers, targets, weights) -> (total scalar, {name: float} for logging); layers = list of
      (logits [B,Q,C], boxes [B,Q,4]) from forward_layers; weights = config 'loss' dict (cost_*, *_coef,
      focal_alpha).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .boxes import cxcywh_to_xyxy, generalized_box_iou
from .matcher import hungarian_match


def sigmoid_focal_loss(logits, targets, num_boxes, alpha: float = 0.25, gamma: float = 2.0, soft: bool = False):
    """soft: targets in [0, 1] (Generalized Focal Loss's quality focal form, |target - p|^gamma, lowest at p =
    target); equal to the focal loss on 0/1 targets."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if soft:
        loss = ce * (targets - prob).abs() ** gamma
    else:
        p_t = prob * targets + (1 - prob) * (1 - targets)
        loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean(1).sum() / num_boxes


def layer_loss(logits, boxes, targets, num_boxes, w) -> dict[str, torch.Tensor]:
    indices = hungarian_match(logits, boxes, targets, w["cost_class"], w["cost_bbox"], w["cost_giou"], w["focal_alpha"])
    batch_idx = torch.cat([torch.full_like(src, b) for b, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for src, _ in indices])
    onehot = torch.zeros_like(logits)
    matched_labels = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)])
    # soft class targets [G,C] where the targets carry them (pseudo-labels at their teacher's confidence), else 1
    soft = bool(targets) and all("class_targets" in t for t in targets)
    if soft:
        onehot[batch_idx, src_idx] = torch.cat([t["class_targets"][j] for t, (_, j) in zip(targets, indices)])
    else:
        onehot[batch_idx, src_idx, matched_labels] = 1.0
    loss_ce = sigmoid_focal_loss(logits, onehot, num_boxes, w["focal_alpha"], soft=soft) * logits.shape[1]
    src_boxes = boxes[batch_idx, src_idx]
    tgt_boxes = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)])
    loss_bbox = F.l1_loss(src_boxes, tgt_boxes, reduction="none").sum() / num_boxes
    if len(tgt_boxes):
        giou = torch.diag(generalized_box_iou(cxcywh_to_xyxy(src_boxes), cxcywh_to_xyxy(tgt_boxes)))
        loss_giou = (1 - giou).sum() / num_boxes
    else:
        loss_giou = boxes.sum() * 0.0
    return dict(loss_ce=loss_ce, loss_bbox=loss_bbox, loss_giou=loss_giou)


def set_loss(layers, targets, w):
    num_boxes = max(float(sum(len(t["labels"]) for t in targets)), 1.0)
    coefs = dict(loss_ce=w["cls_loss_coef"], loss_bbox=w["bbox_loss_coef"], loss_giou=w["giou_loss_coef"])
    total = 0.0
    logged: dict[str, float] = {}
    for i, (logits, boxes) in enumerate(layers):
        parts = layer_loss(logits, boxes, targets, num_boxes, w)
        total = total + sum(coefs[k] * v for k, v in parts.items())
        if i == len(layers) - 1:
            logged.update({k: float(v) for k, v in parts.items()})
    logged["loss"] = float(total)
    return total, logged
