"""Per-class score calibration of a trained detector.

Two forms, both fitted the same way:
- "final": logit'_c = a_c x logit_c + b_c on the detector's output logit;
- "split" (a v2b / v3 detector, whose logit is a proposal's base logit plus the decoder's residual):
  logit'_c = a x base + w- x min(residual, 0) + w+ x max(residual, 0) + b_c, i.e. how far the decoder may move
  the proposal's score, weighed on data it never trained on.

A monotone map per class leaves every class's ranking, and so COCO AP per class, as it is; what it changes is how
one class's score compares with another's on the same box (the gallery's "top detection correct") and with the
package's single threshold. Fitted by penalised logistic regression on detections of photos the detector never
trained on, each (query, class) pair labelled as COCO's matching does: the best-scored pair of a class that covers
a ground-truth box of that class (IoU >= 0.5, each box matched once) is right, every other pair wrong.

a_c = exp(alpha + alpha_c), b_c = beta + beta_c; the per-class offsets carry an L2 penalty (`l2`), so a class with
few boxes stays near the shared map.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.coco_ap import box_iou


@dataclass
class LabelledPairs:
    """Pairs of all pictures: raw logit, class index, right (1) or wrong (0), and the base logit (the proposal's
    own, before the decoder's residual; equal to the logit where there is none)."""

    logits: np.ndarray  # [N] float
    classes: np.ndarray  # [N] int
    right: np.ndarray  # [N] float 0/1
    base: np.ndarray | None = None  # [N] float


def label_pairs(logits, boxes_xyxy, gt_boxes, gt_labels, floor: float = -4.6, base=None) -> LabelledPairs:
    """One picture's (query, class) pairs with a logit above `floor` (sigmoid 0.01), labelled by greedy matching per
    class in descending logit order. logits [Q, C] (and base [Q, C], if given), boxes_xyxy [Q, 4] in the ground
    truth's units; no ground truth = every pair wrong (an object-free picture)."""
    logits = np.asarray(logits, np.float64)
    query, cls = np.nonzero(logits > floor)
    values = logits[query, cls]
    base_values = np.asarray(base, np.float64)[query, cls] if base is not None else values.copy()
    right = np.zeros(len(values))
    gt_labels = np.asarray(gt_labels)
    for c in np.unique(cls):
        members = np.flatnonzero(cls == c)
        members = members[np.argsort(-values[members], kind="stable")]
        gt = np.flatnonzero(gt_labels == c)
        if len(gt) == 0:
            continue
        iou = box_iou(np.asarray(boxes_xyxy)[query[members]], np.asarray(gt_boxes)[gt])
        used = np.zeros(len(gt), bool)
        for row, k in enumerate(members):
            candidates = np.flatnonzero(~used)
            if len(candidates) == 0:
                break
            best = candidates[int(iou[row, candidates].argmax())]
            if iou[row, best] >= 0.5:
                used[best] = True
                right[k] = 1.0
    return LabelledPairs(values, cls.astype(np.int64), right, base_values)


def concatenate(parts: list[LabelledPairs]) -> LabelledPairs:
    return LabelledPairs(
        np.concatenate([p.logits for p in parts]),
        np.concatenate([p.classes for p in parts]),
        np.concatenate([p.right for p in parts]),
        np.concatenate([p.base for p in parts]),
    )


@dataclass
class ClassCalibration:
    """logit' = scale[c] x base + w_down x min(residual, 0) + w_up x max(residual, 0) + bias[c], residual = logit -
    base. The "final" form has w_down = w_up = scale[c] (so logit' = scale[c] x logit + bias[c])."""

    scale: np.ndarray  # [C]
    bias: np.ndarray  # [C]
    w_down: float | None = None  # None: the "final" form
    w_up: float | None = None

    @property
    def form(self) -> str:
        return "final" if self.w_down is None else "split"

    def apply(self, logits, base=None):
        """logits [..., C] (numpy or torch) and, for the split form, base [..., C] -> calibrated logits."""
        torch_in = isinstance(logits, torch.Tensor)
        conv = (lambda v: torch.as_tensor(v, dtype=logits.dtype)) if torch_in else np.asarray
        scale, bias = conv(self.scale), conv(self.bias)
        if self.form == "final":
            return logits * scale + bias
        if base is None:
            raise ValueError("the split calibration needs the base logits")
        residual = logits - base
        zero = residual * 0
        down = torch.minimum(residual, zero) if torch_in else np.minimum(residual, 0)
        up = torch.maximum(residual, zero) if torch_in else np.maximum(residual, 0)
        return base * scale + self.w_down * down + self.w_up * up + bias

    @staticmethod
    def identity(num_classes: int) -> "ClassCalibration":
        return ClassCalibration(np.ones(num_classes), np.zeros(num_classes))

    def to_json(self) -> dict:
        out = {"form": self.form, "scale": [round(float(v), 6) for v in self.scale]}
        out["bias"] = [round(float(v), 6) for v in self.bias]
        if self.form == "split":
            out["w_down"], out["w_up"] = round(float(self.w_down), 6), round(float(self.w_up), 6)
        return out


def pair_logits(calibration: ClassCalibration, pairs: LabelledPairs) -> np.ndarray:
    """The calibrated logit of each pair (flat pairs with class indices, not [..., C] maps)."""
    scale, bias = calibration.scale[pairs.classes], calibration.bias[pairs.classes]
    if calibration.form == "final":
        return scale * pairs.logits + bias
    residual = pairs.logits - pairs.base
    return (
        scale * pairs.base
        + calibration.w_down * np.minimum(residual, 0)
        + calibration.w_up * np.maximum(residual, 0)
        + bias
    )


def log_loss(calibration: ClassCalibration, pairs: LabelledPairs) -> float:
    z = pair_logits(calibration, pairs)
    # BCE with logits, stable form.
    loss = np.maximum(z, 0) - z * pairs.right + np.log1p(np.exp(-np.abs(z)))
    return float(loss.mean())


def fit(
    pairs: LabelledPairs, num_classes: int, l2: float, per_class_scale: bool = True, form: str = "final"
) -> ClassCalibration:
    """Penalised maximum likelihood (L-BFGS, float64). l2 is per pair-mean loss: the penalty is l2 x sum of the
    squared per-class offsets (log-scale and bias), so it weighs like l2 x N pairs' worth of evidence against them.
    The split form shares its scale across classes (per_class_scale is ignored)."""
    if form not in ("final", "split"):
        raise ValueError(f"form {form!r}: 'final' or 'split'")
    split = form == "split"
    z = torch.as_tensor(pairs.logits, dtype=torch.float64)
    b = torch.as_tensor(pairs.base, dtype=torch.float64)
    y = torch.as_tensor(pairs.right, dtype=torch.float64)
    c = torch.as_tensor(pairs.classes)
    # alpha (log scale), beta (bias), w_down, w_up; the weights start at 1 (= no calibration).
    shared = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    offsets = torch.zeros(2, num_classes, dtype=torch.float64, requires_grad=True)  # alpha_c, beta_c
    optimiser = torch.optim.LBFGS([shared, offsets], max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")
    per_class_scale = per_class_scale and not split

    def parameters():
        alpha_c = offsets[0] if per_class_scale else torch.zeros_like(offsets[0])
        return (shared[0] + alpha_c).exp(), shared[1] + offsets[1]

    def closure():
        optimiser.zero_grad()
        scale, bias = parameters()
        if split:
            residual = z - b
            logit = scale[c] * b + shared[2] * residual.clamp(max=0) + shared[3] * residual.clamp(min=0) + bias[c]
        else:
            logit = scale[c] * z + bias[c]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
        penalty = offsets[1].pow(2).sum() + (offsets[0].pow(2).sum() if per_class_scale else 0.0)
        total = loss + l2 * penalty
        total.backward()
        return total

    optimiser.step(closure)
    with torch.no_grad():
        scale, bias = parameters()
        weights = (float(shared[2]), float(shared[3])) if split else (None, None)
    return ClassCalibration(scale.numpy().copy(), bias.numpy().copy(), *weights)
