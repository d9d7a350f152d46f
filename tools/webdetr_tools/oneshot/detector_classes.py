"""One-shot from the shipped default detector (issue 26): its boxes as candidates and its class scores as the
patch's signature. A patch on a zebra overlaps queries that say "zebra"; the other zebras are boxes whose
overlapping queries say "zebra" too. For classes outside COCO the signature may still be consistent (a raccoon
reading as cat / dog / bear everywhere) or the appearance cosine of `ssdlite_embed.py` has to carry it.

The detector (detector v3, `ship/detector_v3_package.V3Forward`) returns 100 queries, each one SSDLite (anchor,
class) proposal refined by the decoder, so each query's 80 sigmoids are close to one-hot (other classes ~1e-5).
A region's class vector therefore aggregates over queries: v(region)[c] = max sigmoid of class c over the
queries whose box overlaps the region with IoU >= iou_min (the same object's zebra and horse proposals both
count; a zebra elsewhere does not). A region that no query overlaps that much takes the vector of the query it
overlaps most (so a patch is never empty while anything touches it); a region touching nothing gets zeros.

All boxes are x0, y0, x1, y1 in 0-1 picture coordinates.

API
  query_boxes(pred_boxes [Q,4] cxcywh 0-1) -> [Q,4] xyxy clipped to the picture
  candidates(boxes [Q,4], probs [Q,80], nms_iou=0.7) -> (boxes [K,4], objectness [K]) class-agnostic NMS,
      objectness = max class probability (anchor_proposals on the detector's queries)
  region_class_vectors(boxes [Q,4], probs [Q,80], regions [N,4], iou_min=0.5) -> [N,80]
  class_similarity(patch [80], vectors [N,80], mode, center=None) -> [N]
      "cos": cosine (0 where either vector is zero); "ndot": vectors . patch / |patch| (the cosine times the
      box's vector length, so a confident box of the patch's class outranks a faint one); "cos_obj": cosine x
      the box's largest class score; "cos_centred": cosine after subtracting `center` from both
  combined_score(class_sim, appearance, objectness, appearance_weight=0.0, objectness_weight=0.0) -> [N]
      class_sim + appearance_weight x appearance + objectness_weight x log objectness
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from .ssdlite_embed import anchor_proposals

SIMILARITIES = ("cos", "ndot", "cos_obj", "cos_centred")


def query_boxes(pred_boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = pred_boxes.float().unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1).clamp(0, 1)


def candidates(boxes: torch.Tensor, probs: torch.Tensor, nms_iou: float | None = 0.7):
    return anchor_proposals(boxes, probs, len(boxes), nms_iou)


def region_class_vectors(
    boxes: torch.Tensor, probs: torch.Tensor, regions: torch.Tensor, iou_min: float = 0.5
) -> torch.Tensor:
    if not len(regions) or not len(boxes):
        return torch.zeros(len(regions), probs.shape[1])
    iou = box_iou(regions.float(), boxes.float())  # [N, Q]
    member = iou >= iou_min
    best = iou.argmax(1)
    lonely = ~member.any(1) & (iou.amax(1) > 0)
    member[lonely, best[lonely]] = True
    return (probs.float()[None] * member[..., None]).amax(1)


def class_similarity(patch: torch.Tensor, vectors: torch.Tensor, mode: str = "cos", center=None) -> torch.Tensor:
    if mode not in SIMILARITIES:
        raise ValueError(f"similarity {mode!r}: one of {SIMILARITIES}")
    patch, vectors = patch.float(), vectors.float()
    if mode == "ndot":
        return vectors @ patch / patch.norm().clamp(min=1e-12)
    if mode == "cos_centred":
        if center is None:
            raise ValueError("cos_centred needs a center")
        patch, vectors = patch - center, vectors - center
    # normalize leaves a zero vector at zero, so "no signal" scores 0 rather than NaN
    cos = F.normalize(vectors, dim=1) @ F.normalize(patch, dim=0)
    return cos * vectors.amax(1) if mode == "cos_obj" else cos


def combined_score(
    class_sim: torch.Tensor,
    appearance: torch.Tensor | None,
    objectness: torch.Tensor,
    appearance_weight: float = 0.0,
    objectness_weight: float = 0.0,
) -> torch.Tensor:
    score = class_sim.float().clone()
    if appearance_weight:
        score = score + appearance_weight * appearance
    if objectness_weight:
        score = score + objectness_weight * objectness.clamp(min=1e-4).log()
    return score
