"""An ImageNet classifier's check of the detector's best boxes, inside the frame (issue 34): the detector's K best
queries are cropped from the model's own 300x300 input, classified by EfficientNet-B0, and a query whose crop the
classifier confidently puts under another COCO class swaps that class's logit with its own.

Why: the gallery's remaining misses are SSDLite's class confusions on close-ups (a flying oystercatcher "dog"),
which neither more COCO-style data nor a head on SSDLite's pooled features corrected (README-detector-v2 §8-§11);
an ImageNet classifier of the box does (experiments/detector_crop_check.py).

Everything exports to ONNX as one graph after the head, which the runtime runs as any graph stage (no runtime
change; the graph adds RoiAlign, TopK, ScatterElements and the classifier's own ops):
- top K queries by their best sigmoid score (TopK);
- crop: the box (cxcywh, 0-1) widened by `context` on each side, clipped to the picture, sampled at S x S points
  bilinearly (RoIAlign, one sample per bin, half-pixel aligned: the convention of F.interpolate(align_corners=False)
  on the 300x300 input, edges clamped; `crop_weights` is the same sampling as explicit weights, for tests);
- probabilities [K, 1000] -> COCO mass [K, 80] = probabilities @ mapping (ImageNet class -> COCO class, 0/1);
- rule (crop_labels' relabel rule): best = argmax mass; a query relabels when mass[best] >= relabel_mass, mass[own]
  < own_mass and neither is person (ImageNet has no person class). Relabelling swaps the query's logits of `own`
  and `best`, so its box now carries its score under `best`; the package's class-wise duplicate suppression then
  keeps the better of two boxes of one class on one object.

API
  crop_weights(lo, hi, size, length) -> [N, size, length] separable bilinear weights
  mapping_matrix(mapping [1000] COCO class or -1, num_classes) -> [1000, C] 0/1
  CropCheck(classifier, mapping [1000, 80], k, size, context, relabel_mass, own_mass, person)
      forward(image [1,3,H,W] 0-255, logits [1,Q,C], boxes [1,Q,4] cxcywh 0-1) -> logits [1,Q,C]
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align


def crop_weights(lo: torch.Tensor, hi: torch.Tensor, size: int, length: int) -> torch.Tensor:
    """[N, size, length]: row i holds the bilinear weights over the `length` input pixels of output sample i of a
    crop [lo, hi) (0-1 of the picture side) resampled to `size` samples, as F.interpolate(align_corners=False)
    resamples a crop (sample centres at (i + 0.5) / size of the crop, pixel centres at j + 0.5, edges clamped)."""
    steps = (torch.arange(size, dtype=lo.dtype, device=lo.device) + 0.5) / size
    position = (lo[:, None] + steps[None] * (hi - lo)[:, None]) * length - 0.5
    position = position.clamp(0, length - 1)
    pixels = torch.arange(length, dtype=lo.dtype, device=lo.device)
    return (1 - (position[..., None] - pixels).abs()).clamp(min=0)


def mapping_matrix(mapping, num_classes: int) -> torch.Tensor:
    """[1000, C] 0/1 from crop_labels.imagenet_to_coco's [1000] (COCO class of each ImageNet class, -1: none)."""
    matrix = torch.zeros(len(mapping), num_classes)
    for row, column in enumerate(mapping):
        if column >= 0:
            matrix[row, int(column)] = 1
    return matrix


def _one_hot(index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[K] class indices -> [K, C] one-hot rows in like's dtype (a ScatterElements in ONNX, as prop_base)."""
    return torch.zeros_like(like).scatter(1, index[:, None], 1.0)


class CropCheck(nn.Module):
    def __init__(
        self,
        classifier: nn.Module,
        mapping: torch.Tensor,
        k: int = 5,
        size: int = 160,
        context: float = 0.1,
        relabel_mass: float = 0.6,
        own_mass: float = 0.05,
        person: int = 0,
    ):
        super().__init__()
        self.classifier = classifier
        self.register_buffer("mapping", mapping.float(), persistent=False)
        self.k, self.size, self.context = k, size, context
        self.relabel_mass, self.own_mass, self.person = relabel_mass, own_mass, person

    def crops(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """image [1,3,H,W] 0-255, boxes [K,4] cxcywh 0-1 -> [K,3,S,S] in 0-1: RoIAlign with one sample per bin
        (aligned: the half-pixel convention, exactly crop_weights' positions; an ONNX RoiAlign, no matrix over the
        whole picture)."""
        cx, cy, w, h = boxes.unbind(-1)
        w, h = w * (1 + 2 * self.context), h * (1 + 2 * self.context)
        height, width = image.shape[-2:]
        x0, x1 = (cx - w / 2).clamp(0, 1) * width, (cx + w / 2).clamp(0, 1) * width
        y0, y1 = (cy - h / 2).clamp(0, 1) * height, (cy + h / 2).clamp(0, 1) * height
        rois = torch.stack([torch.zeros_like(x0), x0, y0, x1, y1], -1)
        return roi_align(image / 255, rois, self.size, spatial_scale=1.0, sampling_ratio=1, aligned=True)

    def forward(self, image: torch.Tensor, logits: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        scores = logits[0].max(-1).values  # [Q] (the sigmoid is monotone: the best logit is the best score)
        top = torch.topk(scores, self.k).indices  # [K]
        query_logits = logits[0, top]  # [K, C]
        mass = self.classifier(self.crops(image, boxes[0, top])) @ self.mapping  # [K, C]
        own_hot, best_hot = _one_hot(query_logits.argmax(-1), query_logits), _one_hot(mass.argmax(-1), query_logits)
        best_mass, own_mass = (mass * best_hot).sum(-1), (mass * own_hot).sum(-1)
        # person by its one-hot column, not by comparing class indices: the exported graph then holds no Equal over
        # computed values (onnxruntime-web's WebGPU EP got one wrong before, README-detector-v2 §7)
        relabel = (
            (best_mass >= self.relabel_mass)
            & (own_mass < self.own_mass)
            & (own_hot[:, self.person] < 0.5)
            & (best_hot[:, self.person] < 0.5)
        ).to(logits.dtype)[:, None]
        own_logit, best_logit = (query_logits * own_hot).sum(-1, keepdim=True), (query_logits * best_hot).sum(
            -1, keepdim=True
        )
        swapped = query_logits + (own_hot - best_hot) * (best_logit - own_logit)
        new = relabel * swapped + (1 - relabel) * query_logits
        # a ScatterElements of the K rows (index_copy exports with an Equal, which the WebGPU EP once got wrong)
        rows = top[:, None].repeat(1, logits.shape[-1])
        return logits[0].scatter(0, rows, new)[None]
