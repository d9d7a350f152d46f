"""Augmented views of a cached image for AlignDet pretraining: the cached real horizontal flip and crops of
the feature maps aligned to stride 32, with the proposal boxes moved along.

Why on features: the backbone is frozen and cached (training/features.py), so a view must be built from
the cached maps. A crop along stride-32 cell borders cuts every level (strides 8/16/32) at exact cell
borders, so the cropped maps are what the detector sees of a smaller image (the sine position encoding
is normalized per map, as for any input size). Not exact: features near the crop border still saw
context outside it (the backbone's receptive field); the flip is exact (the cache holds the backbone's
output on the mirrored image).

Boxes are normalized xyxy in [0, 1] of the (flipped) view. A crop keeps a box when at least min_visible
of its area lies inside and its clipped sides stay >= min_side of the crop; the kept boxes remember
their proposal index, which pairs the same proposal across two views (the contrastive positives).

API
  Crop(x0, y0, cells_w, cells_h, grid_w, grid_h)  (stride-32 cell units) ; .normalized() -> (x0, y0, x1, y1)
  random_crop_size(rng, grid_w, grid_h, min_fraction) -> (cells_w, cells_h)
  random_crop(rng, grid_w, grid_h, cells_w, cells_h) -> Crop at a random offset
  crop_levels(levels [per stride [C, H, W] or [B, C, H, W]], crop, strides=(8, 16, 32)) -> cropped levels
  flip_normalized(boxes [N, 4] xyxy) -> mirrored boxes
  crop_boxes(boxes [N, 4] xyxy normalized, crop, min_visible=0.5, min_side=0.02) -> (boxes [K, 4] xyxy
      normalized to the crop, kept indices [K])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Crop:
    x0: int
    y0: int
    cells_w: int
    cells_h: int
    grid_w: int
    grid_h: int

    def normalized(self) -> tuple[float, float, float, float]:
        return (
            self.x0 / self.grid_w,
            self.y0 / self.grid_h,
            (self.x0 + self.cells_w) / self.grid_w,
            (self.y0 + self.cells_h) / self.grid_h,
        )


def random_crop_size(rng: np.random.RandomState, grid_w: int, grid_h: int, min_fraction: float) -> tuple[int, int]:
    lo_w, lo_h = max(1, int(np.ceil(min_fraction * grid_w))), max(1, int(np.ceil(min_fraction * grid_h)))
    return int(rng.randint(lo_w, grid_w + 1)), int(rng.randint(lo_h, grid_h + 1))


def random_crop(rng: np.random.RandomState, grid_w: int, grid_h: int, cells_w: int, cells_h: int) -> Crop:
    return Crop(
        int(rng.randint(0, grid_w - cells_w + 1)),
        int(rng.randint(0, grid_h - cells_h + 1)),
        cells_w,
        cells_h,
        grid_w,
        grid_h,
    )


def crop_levels(levels, crop: Crop, strides=(8, 16, 32)):
    out = []
    for level, stride in zip(levels, strides):
        f = 32 // stride
        out.append(level[..., crop.y0 * f : (crop.y0 + crop.cells_h) * f, crop.x0 * f : (crop.x0 + crop.cells_w) * f])
    return out


def flip_normalized(boxes: torch.Tensor) -> torch.Tensor:
    return torch.stack((1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]), -1)


def crop_boxes(boxes: torch.Tensor, crop: Crop, min_visible: float = 0.5, min_side: float = 0.02):
    x0, y0, x1, y1 = crop.normalized()
    lo = torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)
    size = torch.tensor([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=boxes.dtype)
    clipped = torch.stack(
        (boxes[:, 0].clamp(x0, x1), boxes[:, 1].clamp(y0, y1), boxes[:, 2].clamp(x0, x1), boxes[:, 3].clamp(y0, y1)), -1
    )

    def area(b):
        return (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)

    inside = (clipped - lo) / size
    keep = (
        (area(clipped) >= min_visible * area(boxes).clamp(min=1e-12))
        & (inside[:, 2] - inside[:, 0] >= min_side)
        & (inside[:, 3] - inside[:, 1] >= min_side)
    )
    index = torch.nonzero(keep).flatten()
    return inside[index], index
