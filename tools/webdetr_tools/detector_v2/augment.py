"""Seeded views of a photo for training: scale/crop, horizontal flip, colour; the backbone runs on the view,
and boxes (ground truth or teacher pseudo-labels, in source pixels) are mapped through the same transform.

A view is a crop window (x0, y0, x1, y1) in source pixels, stretched to size x size like the runtime
(square stretch), then optionally mirrored, then colour-jittered (brightness, contrast, saturation).
View 0 of every image is the identity (the held-out path), view 1 its mirror, later views random.

API
  View(crop, flip, brightness, contrast, saturation)   (a dataclass; .to_json() / View.from_json())
  sample_views(rng, width, height, count, cfg) -> [View]   (cfg: the config's "augment" dict)
  render(rgb uint8 HxWx3, view, size) -> [1, 3, size, size] float 0-255 (antialiased bilinear)
  map_boxes(boxes_xyxy, labels, view, min_visible=0.35) -> (normalized cxcywh [G,4] tensor, labels [G])
      boxes keep the part inside the crop; those with less than min_visible of their area left are dropped
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..training.boxes import xyxy_to_cxcywh


@dataclass(frozen=True)
class View:
    crop: tuple[float, float, float, float]
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0

    def to_json(self) -> dict:
        return {**asdict(self), "crop": [round(float(v), 3) for v in self.crop]}

    @staticmethod
    def from_json(d: dict) -> "View":
        return View(tuple(d["crop"]), bool(d["flip"]), d["brightness"], d["contrast"], d["saturation"])


def sample_views(rng: np.random.RandomState, width: int, height: int, count: int, cfg: dict) -> list[View]:
    full = (0.0, 0.0, float(width), float(height))
    views = [View(full), View(full, True)][:count]
    lo, hi = cfg["crop_scale"]  # fraction of the image area kept
    jitter = cfg["colour_jitter"]
    while len(views) < count:
        area = rng.uniform(lo, hi)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        w = min(1.0, np.sqrt(area * aspect)) * width
        h = min(1.0, np.sqrt(area / aspect)) * height
        x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        b, c, s = (float(np.exp(rng.uniform(-jitter, jitter))) for _ in range(3))
        views.append(View((x0, y0, x0 + w, y0 + h), bool(rng.random_sample() < 0.5), b, c, s))
    return views


def render(rgb: np.ndarray, view: View, size: int) -> torch.Tensor:
    x0, y0, x1, y1 = view.crop
    image = torch.from_numpy(np.array(rgb, np.uint8)).permute(2, 0, 1)[None].float()
    # sub-pixel crop: integer window then exact resize keeps it simple; <1 px error at these scales
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    ix1, iy1 = max(ix0 + 1, int(np.ceil(x1))), max(iy0 + 1, int(np.ceil(y1)))
    image = image[:, :, iy0:iy1, ix0:ix1]
    image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if view.flip:
        image = image.flip(-1)
    if (view.brightness, view.contrast, view.saturation) != (1.0, 1.0, 1.0):
        image = image * view.brightness
        mean = image.mean()
        image = (image - mean) * view.contrast + mean
        grey = image.mean(1, keepdim=True)
        image = (image - grey) * view.saturation + grey
        image = image.clamp(0, 255)
    return image


def _window(view: View) -> tuple[float, float, float, float]:
    """The crop as render() cuts it (integer pixel window)."""
    x0, y0, x1, y1 = view.crop
    ix0, iy0 = float(np.floor(x0)), float(np.floor(y0))
    return ix0, iy0, max(ix0 + 1, float(np.ceil(x1))), max(iy0 + 1, float(np.ceil(y1)))


def map_boxes(boxes_xyxy, labels, view: View, min_visible: float = 0.35):
    boxes = torch.as_tensor(np.asarray(boxes_xyxy, np.float32)).reshape(-1, 4)
    labels = torch.as_tensor(np.asarray(labels, np.int64)).reshape(-1)
    x0, y0, x1, y1 = _window(view)
    w, h = x1 - x0, y1 - y0
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    b = (boxes - torch.tensor([x0, y0, x0, y0])) / torch.tensor([w, h, w, h])
    b = b.clamp(0, 1)
    kept = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) * (w * h)
    keep = (kept > 0) & (kept >= min_visible * area.clamp(min=1e-6))
    b, labels = b[keep], labels[keep]
    if view.flip:
        b = torch.stack((1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]), -1)
    return xyxy_to_cxcywh(b), labels
