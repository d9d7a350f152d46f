"""Detector v2 data: splits (held-out val and the reserved gallery), teacher pseudo-labels at 512 on the
source photo, and a cache of K seeded views per image run through the frozen teacher neck at the
student's size. Everything here is frozen, so it is computed once (prepare()) and read by training.

Splits: coco128 / pennfudan / raccoon: data.datasets.seeded_split(0.2, seed 0) (the shipped model's val);
bccd: max_train_images of its trainval (negatives); unlabeled: all train; unlabeled_extra: gallery_size photos
whose file name maps to a COCO class (weak.py), at most gallery_per_class per class, are reserved as split
'gallery' (never trained on, for the future "first photos" gallery), seeded by the config's seed; the rest train.

Targets per image (source pixels, COCO-80 ids): coco128 ground truth; pennfudan ground truth + teacher
rows overlapping no ground truth of their class (IoU < 0.5); others teacher rows >= pseudo_label_threshold,
on unlabeled / unlabeled_extra corrected by the file name's weak label (weak.apply_weak_label). With
data.second_teacher (v2c, v2d) the teacher rows are first fused with SSDLite's (second_teacher.py), or replaced by
them on the sets in its replace_sets (v2d: the ImageNet photos), there checked box by box by an ImageNet
classifier when the set is in data.crop_check (crop_labels.py: relabel or drop, or with crop_check.distill a
blend of SSDLite's and the classifier's class scores as every checked box's class target). Sets named in
data.weak_sets ({name: {directory, source}}) are more weakly labelled photos outside ../shared (data/imagenet_det.py),
treated like unlabeled/. Sets named in data.labelled_sets ({name: {directory, source}}) are photos with human
COCO boxes outside ../shared (data/coco_extra.py), all train; name them in ground_truth_sets. Sets named in
data.negative_sets ({name: {directory, count, palette}}) are generated object-free pictures (textures.py) with no
targets.

Layout: <cache>/<set>/index.json (written last: marks the set complete) {set, size, views, images: [{id,
file, width, height, split, views: [View json]}], skipped}, teacher.json {id: rows}, level{8,16,32}.npy fp16
[N*K, C, H, W] (row n*K + v = image n's view v).

API
  set_rows(data_root, name, config) -> [(image_id, path, Sample or None, split)]
  prepare(config, data_root, cache_root, model_json, log=print)
  ViewCache(cache_root): .images(set, split=None), .features([(set, id, view)]) -> [B,C,H,W] per level,
      .teacher_rows(set, id), .views(set, id)
  Targets(config, data_root, cache): .source_boxes(set, id) -> (xyxy [G,4], labels [G]) in source pixels;
      .source_targets(set, id) -> (xyxy, labels, class targets [G,C]: onehot(label) * trust, or a distilled
      row's blend); .target(set, id, view) -> {'boxes' cxcywh [G,4], 'labels' [G]} (+ 'class_targets' [G,C], the
      soft class targets, with loss.soft_pseudo_targets)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.coco_extra import load_coco_extra
from ..data.datasets import load_unlabeled, read_rgb
from ..evaluation.coco_ap import box_iou
from ..teacher.centernet_teacher import decode
from ..teacher.coco80 import COCO80_NAMES
from ..training.features import set_samples
from .augment import View, map_boxes, render, sample_views
from .crop_labels import FILE as CROP_FILE
from .crop_labels import MASS_FILE as CROP_MASS_FILE
from .crop_labels import apply_decisions, distil_rows
from .config import REPO
from .neck import LEVEL_STRIDES, TeacherNeck
from .second_teacher import fuse_rows, rows_path
from .textures import ensure as ensure_textures
from .weak import apply_weak_label, weak_class

TEACHER_SIZE = 512
WEAK_SETS = ("unlabeled", "unlabeled_extra")


# data.labelled_sets name -> loader(folder) -> [Sample] with human boxes (COCO-80 names, xyxy source pixels).
# A new set of photos with human boxes needs a loader here; set_rows refuses a name without one.
LABELLED_LOADERS = {"coco_extra": load_coco_extra}


def set_rows(data_root: Path, name: str, config: dict):
    data, seed = config["data"], config["seed"]
    if name in data.get("negative_sets", []):
        spec = data["negative_sets"][name]
        paths = ensure_textures(REPO / spec["directory"], spec["count"], seed, spec.get("palette", "random"))
        return [(p.stem, p, None, "train") for p in paths]
    if name in data.get("labelled_sets", {}):
        loader = LABELLED_LOADERS.get(name)
        if loader is None:
            known = ", ".join(LABELLED_LOADERS)
            raise ValueError(f"data.labelled_sets {name!r}: only {known} can be loaded (LABELLED_LOADERS in data.py)")
        folder = REPO / data["labelled_sets"][name]["directory"]
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no photos for labelled set {name!r} (see its source in the config)")
        return sorted(((s.image.stem, s.image, s, "train") for s in loader(folder)), key=lambda r: r[0])
    if name in WEAK_SETS or name in data.get("weak_sets", {}):
        folder = REPO / data["weak_sets"][name]["directory"] if name not in WEAK_SETS else Path(data_root) / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no photos for weak set {name!r} (see its source in the config)")
        paths = load_unlabeled(folder)
        rows = [(p.stem, p, None, "train") for p in paths]
        if name == "unlabeled_extra" and data.get("gallery_size", 0):
            # at most gallery_per_class photos per class: ImageNet's 120 dog breeds would fill it otherwise
            candidates = [k for k, r in enumerate(rows) if weak_class(r[1].name) is not None]
            chosen, per_class = set(), {}
            for k in np.random.RandomState(seed).permutation(candidates).tolist():
                cls = weak_class(rows[k][1].name)
                if len(chosen) < data["gallery_size"] and per_class.get(cls, 0) < data.get("gallery_per_class", 2):
                    chosen.add(k)
                    per_class[cls] = per_class.get(cls, 0) + 1
            rows = [(a, b, c, "gallery" if k in chosen else d) for k, (a, b, c, d) in enumerate(rows)]
        return rows
    rows = set_samples(data_root, name)
    limit = data.get("max_train_images", {}).get(name)
    if limit is not None:
        train = [k for k, r in enumerate(rows) if r[3] == "train"]
        keep = set(np.random.RandomState(seed).permutation(train)[:limit].tolist())
        rows = [r for k, r in enumerate(rows) if r[3] != "train" or k in keep]
        if name == "bccd":
            rows = [r for r in rows if r[3] == "train"]  # only its negatives are used
    return rows


@torch.no_grad()
def teacher_rows(neck: TeacherNeck, rgb: np.ndarray, min_score: float = 0.01):
    height, width = rgb.shape[:2]
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    image = F.interpolate(image, size=(TEACHER_SIZE, TEACHER_SIZE), mode="bilinear", align_corners=False)
    rows = decode(*neck.raw(image), k=100)
    sx, sy = width / TEACHER_SIZE, height / TEACHER_SIZE
    return [
        [round(x0 * sx, 2), round(y0 * sy, 2), round(x1 * sx, 2), round(y1 * sy, 2), round(s, 4), int(c)]
        for x0, y0, x1, y1, s, c in rows.tolist()
        if s >= min_score
    ]


@torch.no_grad()
def prepare(config: dict, data_root: Path, cache_root: Path, model_json: Path, log=print):
    size, count = config["feature_size"], config["augment"]["views"]
    neck = TeacherNeck(model_json).eval()
    for name in config["data"]["sets"]:
        out = Path(cache_root) / name
        if (out / "index.json").is_file():
            log(f"{name}: cached already")
            continue
        out.mkdir(parents=True, exist_ok=True)
        rows = set_rows(data_root, name, config)
        shapes = [(c, size // s, size // s) for c, s in zip(neck.num_channels, LEVEL_STRIDES)]
        arrays = [
            np.lib.format.open_memmap(
                out / f"level{s}.tmp.npy", mode="w+", dtype=np.float16, shape=(len(rows) * count, *shape)
            )
            for s, shape in zip(LEVEL_STRIDES, shapes)
        ]
        images, skipped, labels, started = [], [], {}, time.time()
        for k, (image_id, path, _, split) in enumerate(rows):
            rgb = read_rgb(path)
            if rgb is None:
                skipped.append(path.name)
                continue
            n = len(images)
            rng = np.random.RandomState([config["seed"], k, len(name)])
            views = sample_views(rng, rgb.shape[1], rgb.shape[0], count, config["augment"])
            batch = torch.cat([render(rgb, v, size) for v in views])
            for array, level in zip(arrays, neck(batch)):
                array[n * count : (n + 1) * count] = level.half().numpy()
            labels[image_id] = teacher_rows(neck, rgb)
            images.append(
                dict(
                    id=image_id,
                    file=path.name,
                    width=int(rgb.shape[1]),
                    height=int(rgb.shape[0]),
                    split=split,
                    views=[v.to_json() for v in views],
                )
            )
            if (k + 1) % 50 == 0 or k + 1 == len(rows):
                rate = (time.time() - started) / (k + 1)
                log(f"{name}: {k + 1}/{len(rows)} images, {rate:.2f} s/img, ETA {rate * (len(rows) - k - 1):.0f} s")
        for array, s in zip(arrays, LEVEL_STRIDES):
            array.flush()
            del array
            final = np.load(out / f"level{s}.tmp.npy", mmap_mode="r")[: len(images) * count]
            np.save(out / f"level{s}.npy", final)
            (out / f"level{s}.tmp.npy").unlink()
        (out / "teacher.json").write_text(json.dumps(labels))
        (out / "index.json").write_text(
            json.dumps(dict(set=name, size=size, views=count, images=images, skipped=skipped), indent=0)
        )
        log(f"{name}: {len(images)} images x {count} views cached, {len(skipped)} skipped")


class ViewCache:
    def __init__(self, cache_root: Path):
        self.root = Path(cache_root)
        self._index, self._row, self._arrays, self._teacher = {}, {}, {}, {}

    def index(self, name: str) -> dict:
        if name not in self._index:
            path = self.root / name / "index.json"
            if not path.is_file():
                raise FileNotFoundError(f"no v2 cache for {name!r} at {path} (run detector_v2.prepare)")
            self._index[name] = json.loads(path.read_text())
            self._row[name] = {img["id"]: n for n, img in enumerate(self._index[name]["images"])}
        return self._index[name]

    def images(self, name: str, split: str | None = None) -> list[dict]:
        return [i for i in self.index(name)["images"] if split is None or i["split"] == split]

    def image(self, name: str, image_id: str) -> dict:
        self.index(name)
        return self._index[name]["images"][self._row[name][image_id]]

    def views(self, name: str, image_id: str) -> list[View]:
        return [View.from_json(v) for v in self.image(name, image_id)["views"]]

    def teacher_rows(self, name: str, image_id: str) -> list:
        if name not in self._teacher:
            self._teacher[name] = json.loads((self.root / name / "teacher.json").read_text())
        return self._teacher[name][image_id]

    def features(self, items) -> list[torch.Tensor]:
        """items: (set, image_id, view) -> one [B, C, H, W] float32 tensor per level."""
        out = [[] for _ in LEVEL_STRIDES]
        for name, image_id, view in items:
            self.index(name)
            if name not in self._arrays:
                self._arrays[name] = [np.load(self.root / name / f"level{s}.npy", mmap_mode="r") for s in LEVEL_STRIDES]
            row = self._row[name][image_id] * self.index(name)["views"] + view
            for level, array in enumerate(self._arrays[name]):
                out[level].append(torch.from_numpy(np.asarray(array[row], np.float32)))
        return [torch.stack(level) for level in out]


class Targets:
    def __init__(self, config: dict, data_root: Path, cache: ViewCache):
        data = config["data"]
        self.classes = list(config["classes"])
        self.class_of = {COCO80_NAMES.index(n): k for k, n in enumerate(self.classes)}
        self.threshold = float(data["pseudo_label_threshold"])
        self.gt_sets = set(data["ground_truth_sets"])
        self.gt_plus = set(data["ground_truth_plus_teacher_sets"])
        self.negative_sets = set(data.get("negative_sets", {}))
        self.weak_sets = set(data.get("weak_sets", {}))
        self.soft = bool(config.get("loss", {}).get("soft_pseudo_targets", False))
        self.crop_rule = data.get("crop_check", {})
        self.crop_check_sets = set(self.crop_rule.get("sets", []))
        self.distill = "distill" in self.crop_rule
        if self.distill and not self.soft:
            raise ValueError("data.crop_check.distill needs loss.soft_pseudo_targets (its class targets are soft)")
        if self.crop_check_sets - set(data.get("second_teacher", {}).get("replace_sets", [])):
            raise ValueError("data.crop_check.sets must be second-teacher replace_sets (it checks SSDLite's rows)")
        self._crop_decisions: dict = {}
        self._crop_masses: dict = {}
        self.second = data.get("second_teacher")
        self._second_rows: dict = {}
        self.min_visible = float(config["augment"]["min_visible"])
        self.data_root, self.cache, self.config = Path(data_root), cache, config
        self._gt: dict = {}

    def ground_truth(self, name: str, image_id: str):
        if name not in self._gt:
            self._gt[name] = {r[0]: r[2] for r in set_rows(self.data_root, name, self.config)}
        sample = self._gt[name][image_id]
        keep = [k for k, n in enumerate(sample.labels) if n in self.classes]
        return sample.boxes[keep].reshape(-1, 4), np.array(
            [self.classes.index(sample.labels[k]) for k in keep], np.int64
        )

    def second_teacher_rows(self, name: str, image_id: str) -> list:
        if name not in self._second_rows:
            path = rows_path(self.cache.root, name)
            if not path.is_file():
                raise FileNotFoundError(f"{path} missing: run detector_v2.second_teacher for this config")
            self._second_rows[name] = json.loads(path.read_text())
        return self._second_rows[name][image_id]

    def crop_decisions(self, name: str, image_id: str) -> list:
        return self._crop_file(self._crop_decisions, name, CROP_FILE)[image_id]

    def crop_masses(self, name: str, image_id: str) -> list:
        return self._crop_file(self._crop_masses, name, CROP_MASS_FILE)[image_id]

    def _crop_file(self, loaded: dict, name: str, file: str) -> dict:
        if name not in loaded:
            path = self.cache.root / name / file
            if not path.is_file():
                raise FileNotFoundError(f"{path} missing: run detector_v2.crop_labels for this config")
            loaded[name] = json.loads(path.read_text())
        return loaded[name]

    def teacher_targets(self, name: str, image_id: str):
        """(boxes, labels, class targets [G,C]): onehot(label) * trust, where trust is the row's teacher score, or 1
        for a box that the file name's weak label or the classifier check vouches for; a distilled row's blend."""
        rows = self.cache.teacher_rows(name, image_id)
        weak = name in WEAK_SETS or name in self.weak_sets
        cls = weak_class(self.cache.image(name, image_id)["file"]) if weak else None
        vouched = 1.0 if self.soft else None
        if self.second and name in self.second.get("replace_sets", []):
            rows = self.second_teacher_rows(name, image_id)  # the second teacher alone labels these photos
            if name in self.crop_check_sets and self.distill:
                rows = distil_rows(
                    rows, self.crop_decisions(name, image_id), self.crop_masses(name, image_id), self.crop_rule
                )
            elif name in self.crop_check_sets:
                rows = apply_decisions(rows, self.crop_decisions(name, image_id), vouched)
        elif self.second:
            second = self.second_teacher_rows(name, image_id)
            rows = fuse_rows(rows, second, self.second["min_score"], self.second.get("iou", 0.5), cls)
        if cls is not None:
            rows = apply_weak_label(rows, cls, self.threshold, raise_to=vouched)
        rows = [r for r in rows if r[4] >= self.threshold and int(r[5]) in self.class_of]
        targets = np.zeros((len(rows), len(self.classes)), np.float32)
        for k, r in enumerate(rows):
            if len(r) > 6:  # a distilled row: its [80] COCO class targets
                for coco, c in self.class_of.items():
                    targets[k, c] = r[6][coco]
            else:
                targets[k, self.class_of[int(r[5])]] = min(float(r[4]), 1.0)
        return (
            np.array([r[:4] for r in rows], np.float32).reshape(-1, 4),
            np.array([self.class_of[int(r[5])] for r in rows], np.int64),
            targets,
        )

    def source_targets(self, name: str, image_id: str):
        """(boxes, labels, class targets [G,C]) in source pixels; onehot for ground truth."""
        classes = len(self.classes)
        if name in self.negative_sets:  # object-free pictures: nothing to find
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64), np.zeros((0, classes), np.float32)
        if name in self.gt_sets:
            boxes, labels = self.ground_truth(name, image_id)
            return boxes, labels, np.eye(classes, dtype=np.float32)[labels].reshape(-1, classes)
        boxes, labels, class_targets = self.teacher_targets(name, image_id)
        if name in self.gt_plus:
            gb, gl = self.ground_truth(name, image_id)
            extra = [
                k for k in range(len(boxes)) if not (len(gb) and (box_iou(boxes[k], gb[gl == labels[k]]) >= 0.5).any())
            ]
            return (
                np.concatenate([gb, boxes[extra]]).reshape(-1, 4),
                np.concatenate([gl, labels[extra]]).astype(np.int64),
                np.concatenate([np.eye(classes, dtype=np.float32)[gl].reshape(-1, classes), class_targets[extra]]),
            )
        return boxes, labels, class_targets

    def source_boxes(self, name: str, image_id: str):
        boxes, labels, _ = self.source_targets(name, image_id)
        return boxes, labels

    def target(self, name: str, image_id: str, view: int) -> dict:
        """{'boxes' cxcywh, 'labels'} in the view; with loss.soft_pseudo_targets also 'class_targets' [G,C]."""
        boxes, labels, class_targets = self.source_targets(name, image_id)
        b, kept = map_boxes(boxes, np.arange(len(labels)), self.cache.views(name, image_id)[view], self.min_visible)
        target = {"boxes": b, "labels": torch.as_tensor(labels[kept.numpy()]).reshape(-1)}
        if self.soft:
            target["class_targets"] = torch.as_tensor(class_targets[kept.numpy()]).reshape(-1, len(self.classes))
        return target


def split_summary(config: dict, data_root: Path) -> dict:
    """What is held out: per set the image count per split, val / gallery file names, and each gallery photo's
    weak class (its main object, from the file name)."""
    out = {}
    for name in config["data"]["sets"]:
        rows = set_rows(data_root, name, config)
        entry = {"counts": {s: sum(r[3] == s for r in rows) for s in sorted({r[3] for r in rows})}}
        for split in ("val", "gallery"):
            files = [r[1].name for r in rows if r[3] == split]
            if files:
                entry[split] = files
        if "gallery" in entry:
            entry["gallery_weak_class"] = {f: COCO80_NAMES[weak_class(f)] for f in entry["gallery"]}
        out[name] = entry
    return out
