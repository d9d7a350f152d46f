"""Cached multi-scale features of the frozen CenterNet MobileNetV3 backbone, for every image of ../shared/data.

Why: the backbone is frozen, so training the transformer only needs its outputs once per image.

Preprocessing (the browser must do the same): RGB 0-255 float, stretched to size x size with
F.interpolate(bilinear, align_corners=False, antialias=True) (= our WGSL bilinear 'antialias' mode),
no mean/std (the TF.js graph takes 0-255). Default size 320: tokens 40x40 + 20x20 + 10x10 = 2,100 per
image (384 would be 3,024, 512 5,376), which keeps a CPU training step and a SwiftShader/WebGPU
encoder pass small; the backbone at 320 costs 0.03 s per image on one thread.
Augmentation: none, except a horizontal flip, cached as the backbone's output on the mirrored image
(exact, not a flipped feature map); boxes are mirrored by `flip_boxes`.

Layout: <cache>/<size>/<set>/index.json + level{stride}.npy and level{stride}_flip.npy, fp16
[N, C, H, W] (strides 8/16/32 -> 96/88/480 channels), row n = index.json's images[n].
index.json: {size, strides, channels, set, images: [{id, file, width, height, split}], skipped: [files]}.
Splits: bccd uses its own ImageSets (trainval -> 'train', test -> 'val'); raccoon, coco128, pennfudan
use data.datasets.seeded_split(val_fraction=0.2, seed=0); unlabeled is all 'train'.
Image ids are file stems (unique within a set).

API
  build_cache(data_root, cache_root, model_json, size=320, sets=SETS, log=print, backbone=None) -> None
      (skips sets whose index.json already has this size)
  FeatureCache(cache_root, size=320):
      .sets() -> list of cached set names
      .images(set, split=None) -> list of index entries (dicts), optionally one split only
      .features(set, image_id, flip=False) -> [tensor [C, H, W] float32 per stride]
      .batch([(set, image_id, flip), ...]) -> [tensor [B, C, H, W] float32 per stride]
  set_samples(data_root, set) -> list of (image_id, path, Sample or None, split)
  flip_boxes(boxes_xyxy, width) -> mirrored boxes (any units where the image spans [0, width])
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.datasets import LOADERS, load_bccd, load_unlabeled, read_rgb, seeded_split

SETS = ("bccd", "raccoon", "coco128", "pennfudan", "unlabeled")
STRIDES = (8, 16, 32)
VAL_FRACTION = 0.2
SPLIT_SEED = 0


def set_samples(data_root: Path, name: str) -> list[tuple[str, Path, object, str]]:
    root = Path(data_root) / name
    if name == "unlabeled":
        rows = [(p.stem, p, None, "train") for p in load_unlabeled(root)]
    elif name == "bccd":
        rows = [
            (s.image.stem, s.image, s, split)
            for split, part in (("train", "trainval"), ("val", "test"))
            for s in load_bccd(root, part)
        ]
    else:
        train, val = seeded_split(LOADERS[name](root), VAL_FRACTION, SPLIT_SEED)
        rows = [(s.image.stem, s.image, s, "train") for s in train] + [(s.image.stem, s.image, s, "val") for s in val]
    rows.sort(key=lambda r: r[0])
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: image ids (file stems) are not unique")
    return rows


def preprocess(rgb: np.ndarray, size: int) -> torch.Tensor:
    """HxWx3 uint8 -> [1, 3, size, size] float 0-255, antialiased bilinear stretch."""
    image = torch.from_numpy(np.array(rgb, np.uint8)).permute(2, 0, 1)[None].float()
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def flip_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], -1)


@torch.no_grad()
def build_cache(
    data_root: Path, cache_root: Path, model_json: Path, size: int = 320, sets=SETS, log=print, backbone=None
):
    """backbone: a module image [1,3,size,size] 0-255 -> [C3, C4, C5] (default: CenterNet from model_json)."""
    from ..backbones.centernet_mobilenetv3 import CenterNetMobileNetV3

    for name in sets:
        out = Path(cache_root) / str(size) / name
        index_path = out / "index.json"
        if index_path.is_file() and json.loads(index_path.read_text()).get("size") == size:
            log(f"{name}: cached already ({index_path})")
            continue
        if backbone is None:
            backbone = CenterNetMobileNetV3(Path(model_json), STRIDES).eval()
        rows = set_samples(data_root, name)
        started = time.time()
        images, skipped, levels = [], [], {False: [[] for _ in STRIDES], True: [[] for _ in STRIDES]}
        for k, (image_id, path, _, split) in enumerate(rows):
            rgb = read_rgb(path)
            if rgb is None:
                skipped.append(path.name)
                continue
            x = preprocess(rgb, size)
            for flipped in (False, True):
                for lvl, f in enumerate(backbone(x.flip(-1) if flipped else x)):
                    levels[flipped][lvl].append(f[0].half().numpy())
            images.append(
                dict(id=image_id, file=path.name, width=int(rgb.shape[1]), height=int(rgb.shape[0]), split=split)
            )
            if (k + 1) % 50 == 0 or k + 1 == len(rows):
                rate = (time.time() - started) / (k + 1)
                log(f"{name}: {k + 1}/{len(rows)} images, {rate:.2f} s/img, ETA {rate * (len(rows) - k - 1):.0f} s")
        out.mkdir(parents=True, exist_ok=True)
        for flipped, suffix in ((False, ""), (True, "_flip")):
            for stride, arrays in zip(STRIDES, levels[flipped]):
                np.save(out / f"level{stride}{suffix}.npy", np.stack(arrays))
        channels = [int(a[0].shape[0]) for a in levels[False]]
        index = dict(size=size, strides=list(STRIDES), channels=channels, set=name, images=images, skipped=skipped)
        index_path.write_text(json.dumps(index, indent=1))  # written last: marks the set complete
        log(f"{name}: {len(images)} images cached, {len(skipped)} skipped -> {out}")


class FeatureCache:
    def __init__(self, cache_root: Path, size: int = 320):
        self.root = Path(cache_root) / str(size)
        self.size = size
        self._index: dict[str, dict] = {}
        self._rows: dict[str, dict[str, int]] = {}
        self._arrays: dict[tuple[str, bool], list[np.ndarray]] = {}

    def sets(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/index.json"))

    def index(self, name: str) -> dict:
        if name not in self._index:
            path = self.root / name / "index.json"
            if not path.is_file():
                raise FileNotFoundError(f"no feature cache for {name!r} at {path} (run tools/cache_features.py)")
            self._index[name] = json.loads(path.read_text())
            self._rows[name] = {img["id"]: n for n, img in enumerate(self._index[name]["images"])}
        return self._index[name]

    def images(self, name: str, split: str | None = None) -> list[dict]:
        return [img for img in self.index(name)["images"] if split is None or img["split"] == split]

    def _levels(self, name: str, flip: bool) -> list[np.ndarray]:
        key = (name, bool(flip))
        if key not in self._arrays:
            self.index(name)
            suffix = "_flip" if flip else ""
            self._arrays[key] = [np.load(self.root / name / f"level{s}{suffix}.npy", mmap_mode="r") for s in STRIDES]
        return self._arrays[key]

    def features(self, name: str, image_id: str, flip: bool = False) -> list[torch.Tensor]:
        self.index(name)
        row = self._rows[name][image_id]
        return [torch.from_numpy(np.asarray(a[row], np.float32)) for a in self._levels(name, flip)]

    def batch(self, items) -> list[torch.Tensor]:
        """items: (set, image_id, flip) triples -> one [B, C, H, W] tensor per stride."""
        per_image = [self.features(name, image_id, flip) for name, image_id, flip in items]
        return [torch.stack(level) for level in zip(*per_image)]
