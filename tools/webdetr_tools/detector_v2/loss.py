"""Detector v2 loss: Deformable-DETR's set loss on every decoder layer (training/losses.py) plus, for
two-stage, the official encoder loss: the same matching and losses on the encoder proposals with every
target relabelled class 0 (objectness in the first logit).

API: total_loss(layers, enc, targets, weights) -> (scalar, {name: float})
"""
from __future__ import annotations

import torch

from ..training.losses import layer_loss, set_loss


def total_loss(layers, enc, targets, w):
    total, logged = set_loss(layers, targets, w)
    if enc is not None:
        binary = [{"boxes": t["boxes"], "labels": torch.zeros_like(t["labels"])} for t in targets]
        num_boxes = max(float(sum(len(t["labels"]) for t in targets)), 1.0)
        parts = layer_loss(enc[0], enc[1], binary, num_boxes, w)
        coefs = dict(loss_ce=w["cls_loss_coef"], loss_bbox=w["bbox_loss_coef"], loss_giou=w["giou_loss_coef"])
        total = total + sum(coefs[k] * v for k, v in parts.items())
        logged.update({f"enc_{k}": float(v) for k, v in parts.items()})
        logged["loss"] = float(total)
    return total, logged
