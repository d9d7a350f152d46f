"""Pretraining data: the cached proposals (tools/experiments/proposals.py) of the feature cache's training images,
and the two augmented views of a batch (views.py).

Views: view A takes the cached flip with probability flip_probability, view B the other orientation
(so the two views always differ by a mirror), and each view crops the stride-32 grid to a random size
(both sides >= min_crop of the grid, one size per view and batch: the images of a batch must stack; no
padding masks) at a random offset per image. No labels are read: only 'train' split images are used so
the held-out images stay unseen by pretraining too.

API
  ProposalSource(proposals_dir, cache, sets, max_boxes=30): .items (list of training.targets.Item with
      >= 1 proposal), .boxes(item) -> [N, 4] xyxy normalized to the image, best first (N <= max_boxes),
      .missing (images of the cache's train split without a proposal entry)
  make_views(cache, chunk, proposals, rng, data_cfg) -> two dicts (one per view): features (per stride
      [B, C, h, w]), boxes (per image [K, 4] xyxy normalized), ids (per image [K] proposal indices),
      flips ([B] bool), crops ([B] views.Crop)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..training.targets import Item
from .views import crop_boxes, crop_levels, flip_normalized, random_crop, random_crop_size


class ProposalSource:
    def __init__(self, proposals_dir: Path, cache, sets, max_boxes: int = 30):
        self.max_boxes = max_boxes
        self._rows: dict[tuple[str, str], list] = {}
        self.items: list[Item] = []
        self.missing = 0
        for name in sets:
            path = Path(proposals_dir) / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"no proposals for {name!r} at {path} (run tools/experiments/proposals.py)")
            images = json.loads(path.read_text())["images"]
            for img in cache.images(name, "train"):
                rows = images.get(img["id"])
                if not rows:
                    self.missing += rows is None
                    continue
                item = Item(name, img["id"], img["width"], img["height"], img["split"])
                self._rows[(name, img["id"])] = rows
                self.items.append(item)

    def boxes(self, item: Item) -> torch.Tensor:
        rows = self._rows[(item.set, item.image_id)][: self.max_boxes]
        b = torch.tensor([r[:4] for r in rows], dtype=torch.float32).reshape(-1, 4)
        return (b / torch.tensor([item.width, item.height] * 2, dtype=torch.float32)).clamp(0, 1)


def make_views(cache, chunk, proposals: ProposalSource, rng: np.random.RandomState, data_cfg: dict):
    grid = cache.size // 32
    flips_a = rng.random_sample(len(chunk)) < data_cfg.get("flip_probability", 0.5)
    views = []
    for flips in (flips_a, ~flips_a):
        cells_w, cells_h = random_crop_size(rng, grid, grid, data_cfg["min_crop"])
        crops = [random_crop(rng, grid, grid, cells_w, cells_h) for _ in chunk]
        full = cache.batch([(it.set, it.image_id, bool(f)) for it, f in zip(chunk, flips)])
        per_image = [crop_levels([level[b] for level in full], crop) for b, crop in enumerate(crops)]
        features = [torch.stack(level) for level in zip(*per_image)]
        boxes, ids = [], []
        for it, f, crop in zip(chunk, flips, crops):
            b = proposals.boxes(it)
            b = flip_normalized(b) if f else b
            kept, index = crop_boxes(b, crop, data_cfg["min_visible"], data_cfg["min_box_side"])
            boxes.append(kept)
            ids.append(index)
        views.append(dict(features=features, boxes=boxes, ids=ids, flips=flips.tolist(), crops=crops))
    return views
