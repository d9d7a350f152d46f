"""Matching and losses for query-patch detection (Deformable-DETR's, applied per patch group).

Each patch k of image b has its own target boxes (random query patch detection: the one box it was
cropped from). The G queries of group k are matched only to patch k's targets, Hungarian on
cost = 2 * focal class cost + 5 * L1(cxcywh) + 2 * (-GIoU) (Deformable-DETR's set_cost_* defaults);
unmatched queries learn "no match". Losses (summed over the last and every auxiliary decoder layer,
each normalised by the number of target boxes): 2 * sigmoid focal (alpha 0.25, gamma 2) + 5 * L1 +
2 * (1 - GIoU).

API
  match_groups(logits [B, K*G, 1], boxes [B, K*G, 4], targets, G) -> list over B of (query idx, target
      boxes [M, 4] cxcywh) where targets[b][k] = tensor [T, 4] cxcywh in [0, 1]
  set_loss(outputs, targets, G) -> (total, parts dict of floats)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torchvision.ops import generalized_box_iou

from .model import box_cxcywh_to_xyxy

WEIGHTS = {"class": 2.0, "l1": 5.0, "giou": 2.0}
ALPHA, GAMMA = 0.25, 2.0


def sigmoid_focal_loss(logits, targets):
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** GAMMA
    return (ALPHA * targets + (1 - ALPHA) * (1 - targets)) * loss


@torch.no_grad()
def match_groups(logits, boxes, targets, group_size: int):
    out = []
    for b, per_patch in enumerate(targets):
        q_idx, t_boxes = [], []
        for k, tb in enumerate(per_patch):
            if len(tb) == 0:
                continue
            sl = slice(k * group_size, (k + 1) * group_size)
            p = logits[b, sl, 0].sigmoid()
            pos = ALPHA * (1 - p) ** GAMMA * -(p + 1e-8).log()
            neg = (1 - ALPHA) * p**GAMMA * -(1 - p + 1e-8).log()
            pred = boxes[b, sl]
            cost = (
                WEIGHTS["class"] * (pos - neg)[:, None]
                + WEIGHTS["l1"] * torch.cdist(pred, tb, p=1)
                - WEIGHTS["giou"] * generalized_box_iou(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(tb))
            )
            rows, cols = linear_sum_assignment(cost.numpy())
            q_idx.append(torch.as_tensor(rows, dtype=torch.long) + k * group_size)
            t_boxes.append(tb[torch.as_tensor(cols, dtype=torch.long)])
        out.append(
            (
                torch.cat(q_idx) if q_idx else torch.zeros(0, dtype=torch.long),
                torch.cat(t_boxes) if t_boxes else torch.zeros(0, 4),
            )
        )
    return out


def _layer_loss(logits, boxes, targets, group_size, num_boxes):
    matches = match_groups(logits.detach(), boxes.detach(), targets, group_size)
    target_cls = torch.zeros_like(logits)
    pred, gt = [], []
    for b, (q, tb) in enumerate(matches):
        target_cls[b, q, 0] = 1.0
        pred.append(boxes[b, q])
        gt.append(tb)
    pred, gt = torch.cat(pred), torch.cat(gt)
    loss_class = sigmoid_focal_loss(logits, target_cls).sum() / num_boxes
    loss_l1 = F.l1_loss(pred, gt, reduction="sum") / num_boxes
    giou = torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(gt)))
    loss_giou = (1 - giou).sum() / num_boxes
    return {"class": loss_class, "l1": loss_l1, "giou": loss_giou}


def set_loss(outputs, targets, group_size: int):
    num_boxes = max(1.0, float(sum(len(tb) for per in targets for tb in per)))
    layers = outputs["aux"] + [{"pred_logits": outputs["pred_logits"], "pred_boxes": outputs["pred_boxes"]}]
    total, parts = 0.0, {}
    for i, out in enumerate(layers):
        losses = _layer_loss(out["pred_logits"], out["pred_boxes"], targets, group_size, num_boxes)
        total = total + sum(WEIGHTS[k] * v for k, v in losses.items())
        if i == len(layers) - 1:
            parts = {k: float(v) for k, v in losses.items()}
    return total, parts
