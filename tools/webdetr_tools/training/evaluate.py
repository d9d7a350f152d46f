"""Detector evaluation on the held-out split: COCO AP / AP50 (evaluation/coco_ap.py) against
  - coco128 val ground truth (the config's classes; objects of other classes are not counted),
  - pennfudan val ground truth (class 'person' only; pennfudan annotates pedestrians, not every person),
  - the teacher's pseudo-labels (score >= threshold) on the val split of every labelled set
    ('agreement with the teacher': how much of the teacher the student learned).

API
  postprocess(logits [B,Q,C], boxes [B,Q,4] cxcywh, sizes [(w, h)], k=100, duplicate_iou=None) -> per image
      (boxes xyxy px [k,4], scores [k], labels [k]) numpy, the official top-k over queries x classes; with
      duplicate_iou (a package's manifest output.duplicateIou), then suppress_duplicates, as the runtime does.
  suppress_duplicates(boxes, scores, labels, iou) -> indices kept: class-wise greedy NMS.
  predict(model, cache, items, batch_size=8) -> {(set, id): (boxes, scores, labels)}
  evaluate_detector(model, cache, labels, sets) -> {metric name: value}
"""
from __future__ import annotations

import numpy as np
import torch

from ..evaluation.coco_ap import ImageResult, evaluate
from .boxes import cxcywh_to_xyxy
from .detector import forward_layers
from .targets import items as list_items


def suppress_duplicates(boxes, scores, labels, iou: float):
    """Indices (ascending) of the boxes that class-wise greedy NMS keeps: visit by descending score, equal scores
    in list order (a stable sort), drop a box whose IoU with a kept box of its class is above `iou`. The runtime's
    rule (src/postprocess/detections.ts suppressDuplicates); torchvision.ops.batched_nms is the same greedy rule
    but does not promise an order for equal scores. IoU in float64, as the runtime computes it."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores, labels = np.asarray(scores), np.asarray(labels)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        same = [j for j in kept if labels[j] == labels[i]]
        if same:
            other = boxes[same]
            w = np.clip(np.minimum(other[:, 2], boxes[i, 2]) - np.maximum(other[:, 0], boxes[i, 0]), 0, None)
            h = np.clip(np.minimum(other[:, 3], boxes[i, 3]) - np.maximum(other[:, 1], boxes[i, 1]), 0, None)
            overlap = w * h
            union = area[same] + area[i] - overlap
            overlaps = np.where(union > 0, overlap / np.where(union > 0, union, 1), 0)
            if (overlaps > iou).any():
                continue
        kept.append(int(i))
    return np.array(sorted(kept), np.int64)


def postprocess(logits, boxes, sizes, k: int = 100, duplicate_iou: float | None = None):
    prob = logits.sigmoid()
    b, q, c = prob.shape
    k = min(k, q * c)
    scores, index = prob.view(b, -1).topk(k, dim=1)
    query, label = torch.div(index, c, rounding_mode="floor"), index % c
    xyxy = cxcywh_to_xyxy(boxes)
    out = []
    for i, (w, h) in enumerate(sizes):
        chosen = xyxy[i, query[i]] * torch.tensor([w, h, w, h], dtype=xyxy.dtype)
        result = (chosen.numpy(), scores[i].numpy(), label[i].numpy())
        if duplicate_iou is not None:
            keep = suppress_duplicates(*result, duplicate_iou)
            result = tuple(a[keep] for a in result)
        out.append(result)
    return out


@torch.no_grad()
def predict(model, cache, items, batch_size: int = 8) -> dict:
    was_training = model.training
    model.eval()
    out = {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        features = cache.batch([(it.set, it.image_id, False) for it in chunk])
        logits, boxes = forward_layers(model, features)[-1]
        for it, result in zip(chunk, postprocess(logits, boxes, [(it.width, it.height) for it in chunk])):
            out[(it.set, it.image_id)] = result
    model.train(was_training)
    return out


def _ap(pairs) -> dict[str, float]:
    results = [ImageResult(gt_b, gt_l, b, s, lab) for (gt_b, gt_l), (b, s, lab) in pairs]
    if not any(len(r.gt_labels) for r in results):
        return {"AP": float("nan"), "AP50": float("nan")}
    m = evaluate(results)
    return {"AP": m["AP"], "AP50": m["AP50"]}


def evaluate_detector(model, cache, labels, sets, split: str = "val") -> dict[str, float]:
    val = list_items(cache, [s for s in sets if cache.images(s, split)], split)
    predictions = predict(model, cache, val)
    metrics: dict[str, float] = {}
    coco = [it for it in val if it.set == "coco128"]
    if coco:
        m = _ap([(labels.ground_truth_boxes(it), predictions[(it.set, it.image_id)]) for it in coco])
        metrics.update({f"coco128_gt_{k}": v for k, v in m.items()})
    penn = [it for it in val if it.set == "pennfudan"]
    if penn and "person" in labels.classes:
        person = labels.classes.index("person")
        pairs = []
        for it in penn:
            b, s, lab = predictions[(it.set, it.image_id)]
            keep = lab == person
            pairs.append((labels.ground_truth_boxes(it), (b[keep], s[keep], lab[keep])))
        metrics.update({f"pennfudan_person_{k}": v for k, v in _ap(pairs).items()})
    pairs = [(labels.teacher_boxes(it)[:2], predictions[(it.set, it.image_id)]) for it in val]
    metrics.update({f"teacher_val_{k}": v for k, v in _ap(pairs).items()})
    return metrics
