"""Training / evaluation targets for the detector: ground truth or teacher pseudo-labels per cached image.

Targets are normalized cxcywh boxes (the image is stretched to a square, so dividing by the source
width/height is exact) with labels indexed into the config's class list (COCO-80 names); objects of
other classes are dropped. Per set, the config chooses the source:
  ground_truth_sets: the set's annotations (coco128: COCO names);
  ground_truth_plus_teacher_sets: annotations plus teacher boxes that overlap no annotation of their
      class at IoU >= 0.5 (pennfudan annotates pedestrians only: cars, bags, other people come from
      the teacher);
  other sets: teacher boxes with score >= pseudo_label_threshold.

API
  Item(set, image_id, width, height, split) ; items(cache, sets, split, max_per_set=None, seed=0)
  LabelSource(data_root, labels_dir, config) with .target(item, flip=False) -> {'labels', 'boxes'} tensors
      and .boxes_xyxy(item) -> (boxes in source pixels [G,4] numpy, labels [G] numpy) for evaluation
  teacher_target(...) is the same with the teacher alone (agreement metrics).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..evaluation.coco_ap import box_iou
from ..teacher.coco80 import COCO80_NAMES
from .boxes import xyxy_to_cxcywh
from .features import set_samples


@dataclass(frozen=True)
class Item:
    set: str
    image_id: str
    width: int
    height: int
    split: str


def items(cache, sets, split: str | None, max_per_set: dict | None = None, seed: int = 0) -> list[Item]:
    out = []
    for name in sets:
        rows = [Item(name, img["id"], img["width"], img["height"], img["split"]) for img in cache.images(name, split)]
        limit = (max_per_set or {}).get(name)
        if limit is not None and limit < len(rows):
            keep = np.random.RandomState(seed).permutation(len(rows))[:limit]
            rows = [rows[i] for i in sorted(keep)]
        out.extend(rows)
    return out


class LabelSource:
    def __init__(self, data_root: Path, labels_dir: Path, config: dict):
        self.classes = list(config["classes"])
        self.class_of = {COCO80_NAMES.index(n): k for k, n in enumerate(self.classes)}
        data = config["data"]
        self.threshold = float(data["pseudo_label_threshold"])
        self.gt_sets = set(data.get("ground_truth_sets", []))
        self.gt_plus_sets = set(data.get("ground_truth_plus_teacher_sets", []))
        self.data_root, self.labels_dir = Path(data_root), Path(labels_dir)
        self._teacher: dict[str, dict] = {}
        self._gt: dict[str, dict] = {}

    def _teacher_rows(self, name: str) -> dict:
        if name not in self._teacher:
            path = self.labels_dir / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"no pseudo-labels for {name!r} at {path} (run tools/pseudo_label.py)")
            self._teacher[name] = json.loads(path.read_text())["images"]
        return self._teacher[name]

    def _annotations(self, name: str) -> dict:
        if name not in self._gt:
            self._gt[name] = {image_id: sample for image_id, _, sample, _ in set_samples(self.data_root, name)}
        return self._gt[name]

    def teacher_boxes(self, item: Item) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = [
            r
            for r in self._teacher_rows(item.set)[item.image_id]
            if r[4] >= self.threshold and int(r[5]) in self.class_of
        ]
        boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
        return boxes, np.array([self.class_of[int(r[5])] for r in rows], np.int64), np.array([r[4] for r in rows])

    def ground_truth_boxes(self, item: Item) -> tuple[np.ndarray, np.ndarray]:
        sample = self._annotations(item.set)[item.image_id]
        keep = [k for k, n in enumerate(sample.labels) if n in self.classes]
        return (
            sample.boxes[keep].reshape(-1, 4),
            np.array([self.classes.index(sample.labels[k]) for k in keep], np.int64),
        )

    def boxes_xyxy(self, item: Item) -> tuple[np.ndarray, np.ndarray]:
        if item.set in self.gt_sets:
            return self.ground_truth_boxes(item)
        boxes, labels, _ = self.teacher_boxes(item)
        if item.set in self.gt_plus_sets:
            gt_boxes, gt_labels = self.ground_truth_boxes(item)
            extra = [
                k
                for k in range(len(boxes))
                if not (len(gt_boxes) and (box_iou(boxes[k], gt_boxes[gt_labels == labels[k]]) >= 0.5).any())
            ]
            return (
                np.concatenate([gt_boxes, boxes[extra]]).reshape(-1, 4),
                np.concatenate([gt_labels, labels[extra]]).astype(np.int64),
            )
        return boxes, labels

    def target(self, item: Item, flip: bool = False, teacher_only: bool = False) -> dict[str, torch.Tensor]:
        boxes, labels = self.teacher_boxes(item)[:2] if teacher_only else self.boxes_xyxy(item)
        return normalized_target(boxes, labels, item.width, item.height, flip)


def normalized_target(boxes_xyxy, labels, width, height, flip=False) -> dict[str, torch.Tensor]:
    b = torch.as_tensor(np.asarray(boxes_xyxy, np.float32)).reshape(-1, 4) / torch.tensor(
        [width, height, width, height], dtype=torch.float32
    )
    b = b.clamp(0, 1)
    if flip:
        b = torch.stack((1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]), -1)
    keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return {"labels": torch.as_tensor(labels, dtype=torch.int64)[keep], "boxes": xyxy_to_cxcywh(b[keep])}
