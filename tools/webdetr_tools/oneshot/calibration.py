"""Calibrated match scores for RoI one-shot models: a logistic fit of "this box matches the patch" on the
labeled training pairs, over the model's raw logit and the per-tap cosine similarity between the box's
and the patch's RoI descriptors, (calibration_overlap) each box's IoU with a box of its patch whose raw
logit is higher, and (calibration_scale) |log(box area / patch area)| (OneShotDETR.calibration_inputs).

Why: one-shot AP50 ranks the boxes of all (query, picture) pairs together, and a query's class is absent
from most other pictures. The decoder's match logit ranks boxes within a picture well but is not
comparable across pictures: confident answers in pictures lacking the class outrank true matches
elsewhere (coco128). Appearance similarity is comparable across pictures (the sliding-window baseline
is built on it). A logistic regression on both, fitted to what a match is, gives a probability. Within a
picture, the decoder often answers one object with several slots of a patch's group: the overlap with a
stronger box of the group marks these duplicates (fitted on the training pairs its weight, -3.6, is as large
as the logit's, 3.5; on held-out pictures it lifted every set:
tools/experiments/results/oneshot_experiment_overlap_calibration.json). A look-alike is usually about the patch's size,
and many of the boxes on other things are not: the size term lifted held-out coco128 by 1.5 AP50
(tools/experiments/results/oneshot_experiment_scale_calibration.json; the aspect ratio hurt it and is not used).

Data: the one-shot protocol (evaluation/oneshot_ap.py: queries, same- and cross-image pairs) on each
labeled set's 'train' split; held-out images are never read. Labels follow the protocol's matching: in
a pair, boxes in raw-logit order are matched greedily to unmatched targets at IoU >= 0.5 (1) or not (0);
unmatched boxes on the query box of a same-image pair are left out (the protocol ignores them). Each set
weighs the same; L2 1e-4 on the weights; LBFGS from zeros in float64 (deterministic).

API
  match_labels(boxes_px [D, 4], logits [D], targets [T, 4], query_box or None) -> (keep [D] bool, labels [D])
  fit_logistic(features [N, F], labels [N], weights [N], l2=1e-4) -> [F + 1] (weights, then bias)
"""
from __future__ import annotations

import numpy as np
import torch

from ..evaluation.coco_ap import box_iou


def match_labels(boxes, logits, targets, query_box=None, iou: float = 0.5):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    targets = np.asarray(targets, np.float64).reshape(-1, 4)
    keep, labels = np.ones(len(boxes), bool), np.zeros(len(boxes))
    on_query = (
        box_iou(boxes, np.asarray(query_box, np.float64))[:, 0] >= iou
        if query_box is not None and len(boxes)
        else np.zeros(len(boxes), bool)
    )
    taken = np.zeros(len(targets), bool)
    for d in np.argsort(-np.asarray(logits), kind="stable"):
        if len(targets):
            ious = box_iou(boxes[d], targets)[0]
            ious[taken] = -1
            best = int(np.argmax(ious))
            if ious[best] >= iou:
                taken[best], labels[d] = True, 1.0
                continue
        keep[d] = not on_query[d]
    return keep, labels


def fit_logistic(features, labels, weights, l2: float = 1e-4) -> np.ndarray:
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float64)
    w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)
    params = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [params], max_iter=500, tolerance_grad=1e-10, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def closure():
        optimizer.zero_grad()
        z = x @ params[:-1] + params[-1]
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none") * w).sum() / w.sum()
        loss = loss + l2 * (params[:-1] ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return params.detach().numpy()
