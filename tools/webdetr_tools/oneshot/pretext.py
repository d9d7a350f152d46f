"""Random query patch detection (UP-DETR's pretext task) on cached image features, without labels.

Per training image (any set's 'train' split, labels unused; random horizontal flip with the cache's
mirrored features): K random boxes, each side a log-uniform fraction in [min_side, max_side] of the
image side (UP-DETR draws sides uniformly in [8 px, side - 8 px]; log-uniform gives the small objects
of BCCD / COCO more weight), position uniform, at least 8 px. Each box is cropped from the decoded
original image (patches.py: PIL crop + bilinear to P x P) and augmented like UP-DETR's query transform
(SimCLR style: colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2, Gaussian blur sigma 0.1-2 with
p 0.5; no flip), then described by the frozen backbone (GAP per tap). The patch's target is the box
it came from. Patch descriptors are computed per sampled crop on the fly (the backbone costs ~5 ms per
128x128 crop on one thread), so training sees exactly the inference-time patch pipeline.

Optional teacher-instance patches (pseudo_fraction > 0): with that probability a patch slot instead
takes a box of the CenterNet teacher's pseudo-labels (.cache/pseudo_labels/<set>.json, COCO-trained
teacher, score >= pseudo_min_score, sides >= 8 px) and its targets are all the teacher's boxes of that
class in the image (capped at the group size): no human label is used, but a patch now has several
instances to find, which is what one-shot evaluation asks (UP-DETR's random crops have exactly one).
Images without such boxes (e.g. BCCD's cells, not COCO classes) keep random patches.
Cross-image teacher patches (cross_fraction > 0): with that probability a slot's patch is a teacher
instance cropped from another training image (half the time of a class this image's teacher boxes
have, else of any teacher class), and its targets are this image's teacher boxes of that class, none
if it has none: the model learns to find other instances in other images and to stay silent when
the class is absent (one-shot evaluation's cross-image pairs).
Ground-truth instances (fine-tuning, UP-DETR's one-shot recipe): `load_ground_truth` gives the labeled
sets' human boxes of the 'train' split in the same form as the teacher's, so the same two patch kinds
above then come from labeled instances; held-out ('val') images are never read.

RoI descriptors (descriptor='roi', the model's patch_descriptor): a patch is described by pooling the
cached taps of the image it comes from over its box (patches.roi_descriptors: the inference path of such a
model), with the box jittered (roi_jitter: centre N(0, s) sides, sides x exp(N(0, s))) as a user's drag
would be, instead of the crop's colour augmentation; no backbone pass per patch.

Set weights (set_weights {set: weight}, default all 1): a set's images are drawn in proportion to its weight
over its image count, so a small set (coco128's ~100 pictures of ~70 classes beside bccd's 292 of 3) can
make up a chosen share of the batches. Without it images are drawn uniformly, as before.

Seeding: batch(iteration) draws from RandomState(seed, iteration) and torch.manual_seed(seed * 1_000_003
+ iteration), so a resumed run repeats exactly the batches it would have seen.

API
  training_images(cache, data_root, sets) -> list of dict(set, id, path, width, height)
  random_boxes(rng, width, height, k, min_side, max_side) -> [k, 4] xyxy pixels
  augment(patches [K, 3, P, P] 0-255) -> same shape
  load_pseudo_labels(root, sets, min_score) -> {set: {image_id: (boxes [N, 4] xyxy px, classes [N])}}
  load_ground_truth(data_root, sets) -> the same form from the 'train' split's labels; a class id per
      (set, label) so that classes of different sets never match
  PretextBatches(cache, data_root, sets, backbone, batch_images, patches_per_image, patch_size, seed,
                 min_side, max_side, pseudo=None, pseudo_fraction=0.0, max_targets=20,
                 cross_fraction=0.0, descriptor='crop', roi_samples=8, roi_jitter=0.0, set_weights=None)
      .batch(iteration) -> (levels [per tap [B, C, H, W]], patch_desc [B, K, 664],
                            targets [B][K] tensors [1, 4] cxcywh normalized);
      'roi' only: .batch_with_boxes(iteration) -> (levels, patch_desc, patch_boxes [B, K, 4], targets), the boxes
      the descriptors were pooled over (jittered), xyxy relative to their image (for patch_scale_input models)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torchvision import transforms

from ..data.datasets import read_rgb
from ..training.features import flip_boxes, set_samples
from .patches import crop_patches, jitter_boxes, pooled_features, roi_descriptors

_AUGMENT = transforms.Compose(
    [
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
        transforms.RandomApply([transforms.GaussianBlur(9, sigma=(0.1, 2.0))], p=0.5),
    ]
)


def training_images(cache, data_root, sets) -> list[dict]:
    out = []
    for name in sets:
        paths = {r[0]: r[1] for r in set_samples(data_root, name)}
        for img in cache.images(name, "train"):
            out.append(dict(set=name, id=img["id"], path=paths[img["id"]], width=img["width"], height=img["height"]))
    return out


def random_boxes(rng, width: int, height: int, k: int, min_side: float, max_side: float) -> np.ndarray:
    lo, hi = np.log(min_side), np.log(max_side)
    w = np.clip(np.exp(rng.uniform(lo, hi, k)) * width, 8, width)
    h = np.clip(np.exp(rng.uniform(lo, hi, k)) * height, 8, height)
    x = rng.uniform(0, 1, k) * (width - w)
    y = rng.uniform(0, 1, k) * (height - h)
    # integer pixel edges, like the PIL crop that makes the patch
    return np.round(np.stack([x, y, x + w, y + h], -1))


def load_pseudo_labels(root, sets, min_score: float = 0.25) -> dict:
    out = {}
    for name in sets:
        path = Path(root) / f"{name}.json"
        if not path.is_file():
            continue
        per_image = {}
        for image_id, rows in json.loads(path.read_text())["images"].items():
            rows = np.asarray(rows, np.float64).reshape(-1, 6)
            rows = rows[(rows[:, 4] >= min_score) & (rows[:, 2] - rows[:, 0] >= 8) & (rows[:, 3] - rows[:, 1] >= 8)]
            if len(rows):
                per_image[image_id] = (rows[:, :4], rows[:, 5].astype(int))
        out[name] = per_image
    return out


def load_ground_truth(data_root, sets, min_side: float = 8) -> dict:
    rows = {name: [r for r in set_samples(data_root, name) if r[3] == "train" and r[2] is not None] for name in sets}
    names = sorted({(name, label) for name, part in rows.items() for r in part for label in r[2].labels})
    class_id = {key: n for n, key in enumerate(names)}
    out = {}
    for name, part in rows.items():
        per_image = {}
        for image_id, _, sample, _ in part:
            keep = (sample.boxes[:, 2] - sample.boxes[:, 0] >= min_side) & (
                sample.boxes[:, 3] - sample.boxes[:, 1] >= min_side
            )
            if keep.any():
                classes = np.array([class_id[(name, label)] for label in sample.labels], int)
                per_image[image_id] = (sample.boxes[keep].astype(np.float64), classes[keep])
        out[name] = per_image
    return out


def augment(patches: torch.Tensor) -> torch.Tensor:
    return torch.stack([_AUGMENT(p / 255.0) * 255.0 for p in patches])


def _cxcywh(boxes_xyxy, width, height) -> torch.Tensor:
    xyxy = torch.from_numpy(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) / [width, height, width, height])
    xyxy = xyxy.float().clamp(0, 1)
    return torch.stack(
        [
            (xyxy[:, 0] + xyxy[:, 2]) / 2,
            (xyxy[:, 1] + xyxy[:, 3]) / 2,
            xyxy[:, 2] - xyxy[:, 0],
            xyxy[:, 3] - xyxy[:, 1],
        ],
        -1,
    )


class PretextBatches:
    def __init__(
        self,
        cache,
        data_root,
        sets,
        backbone,
        batch_images=2,
        patches_per_image=5,
        patch_size=128,
        seed=0,
        min_side=0.05,
        max_side=0.8,
        pseudo=None,
        pseudo_fraction=0.0,
        max_targets=20,
        cross_fraction=0.0,
        descriptor="crop",
        roi_samples=8,
        roi_jitter=0.0,
        set_weights=None,
    ):
        if descriptor not in ("crop", "roi"):
            raise ValueError(f"descriptor must be 'crop' or 'roi', not {descriptor!r}")
        unknown = set(set_weights or {}) - set(sets)
        if unknown or any(w <= 0 for w in (set_weights or {}).values()):
            raise ValueError(f"set_weights takes positive weights of the training sets {list(sets)}, got {set_weights}")
        self.descriptor, self.roi_samples, self.roi_jitter = descriptor, roi_samples, roi_jitter
        self.cache, self.backbone = cache, backbone
        self.images = training_images(cache, data_root, sets)
        self.batch_images, self.k, self.patch_size = batch_images, patches_per_image, patch_size
        self.seed, self.min_side, self.max_side = seed, min_side, max_side
        self.pseudo, self.pseudo_fraction, self.max_targets = pseudo or {}, pseudo_fraction, max_targets
        self.cross_fraction = cross_fraction
        # teacher instances of the training images by class: class -> [(image number, box)]
        self.instances: dict[int, list] = {}
        for n, img in enumerate(self.images):
            found = self.pseudo.get(img["set"], {}).get(img["id"])
            for box, cls in zip(*found) if found is not None else ():
                self.instances.setdefault(int(cls), []).append((n, box))
        self.classes = sorted(self.instances)
        self.image_probs = None  # uniform over images
        if set_weights:
            counts = {name: sum(img["set"] == name for img in self.images) for name in sets}
            probs = np.array([set_weights.get(img["set"], 1.0) / counts[img["set"]] for img in self.images])
            self.image_probs = probs / probs.sum()

    def _teacher(self, img, flip, width):
        found = self.pseudo.get(img["set"], {}).get(img["id"])
        if found is None:
            return np.zeros((0, 4)), np.zeros(0, int)
        return (flip_boxes(found[0], width) if flip else found[0]), found[1]

    def _cross_instance(self, rng, number, t_classes):
        """A teacher instance from another image, half the time of a class this image has:
        (source image number or None, its box in pixels, class)."""
        if len(t_classes) and rng.rand() < 0.5:
            cls = int(t_classes[rng.randint(len(t_classes))])
        else:
            cls = self.classes[rng.randint(len(self.classes))]
        pool = [inst for inst in self.instances[cls] if inst[0] != number]
        if not pool:
            return None, None, cls
        source, box = pool[rng.randint(len(pool))]
        return source, np.round(box), cls

    def _cross_crop(self, source, box):
        rgb = read_rgb(self.images[source]["path"])
        return None if rgb is None else crop_patches(rgb, box[None], self.patch_size)[0]

    def _roi(self, levels, boxes, width, height):
        """levels [1, C, h, w] per tap; boxes [K, 4] pixels of a width x height image -> ([K, sum C], the boxes
        relative to the image [K, 4])."""
        norm = torch.from_numpy(np.asarray(boxes, np.float64) / [width, height, width, height]).float().clamp(0, 1)
        return roi_descriptors(levels, norm[None], self.roi_samples)[0], norm

    def batch(self, iteration: int):
        """(levels, patch_desc, targets) of one iteration (the module docstring)."""
        out = self._batch(iteration)
        return out[0], out[1], out[-1]

    def batch_with_boxes(self, iteration: int):
        """'roi' only: (levels, patch_desc, patch_boxes [B, K, 4] xyxy relative, targets); the same batch as batch()."""
        if self.descriptor != "roi":
            raise ValueError("patch boxes come with 'roi' descriptors only")
        return self._batch(iteration)

    @torch.no_grad()
    def _batch(self, iteration: int):
        rng = np.random.RandomState([self.seed, iteration])
        torch.manual_seed(self.seed * 1_000_003 + iteration)
        jitter_rng = np.random.RandomState([self.seed, iteration, 1])  # apart, so 'crop' batches stay as they were
        items, patches, targets, roi_boxes = [], [], [], []
        picks = rng.choice(
            len(self.images), min(len(self.images), self.batch_images * 4), replace=False, p=self.image_probs
        )
        for i in picks:
            if len(items) == self.batch_images:
                break
            img = self.images[int(i)]
            rgb = None if self.descriptor == "roi" else read_rgb(img["path"])  # RoI patches need no pixels
            if rgb is None and self.descriptor == "crop":
                continue
            flip = bool(rng.rand() < 0.5)
            if rgb is None:
                h, w = img["height"], img["width"]
            else:
                rgb = np.ascontiguousarray(rgb[:, ::-1]) if flip else rgb
                h, w = rgb.shape[:2]
            boxes = random_boxes(rng, w, h, self.k, self.min_side, self.max_side)
            per_patch = [boxes[j : j + 1] for j in range(self.k)]
            t_boxes, t_classes = self._teacher(img, flip, w)
            cross = {}
            for j in range(self.k):
                u = rng.rand()
                if u < self.pseudo_fraction:
                    if len(t_boxes):  # else the random patch stays
                        pick = rng.randint(len(t_boxes))
                        boxes[j] = np.round(t_boxes[pick])
                        per_patch[j] = t_boxes[t_classes == t_classes[pick]][: self.max_targets]
                elif u < self.pseudo_fraction + self.cross_fraction and self.classes:
                    source, box, cls = self._cross_instance(rng, int(i), t_classes)
                    if source is not None and self.descriptor == "roi":
                        cross[j] = (source, box)
                    elif source is not None:
                        patch = self._cross_crop(source, box)
                        if patch is None:
                            continue
                        cross[j] = patch
                    else:
                        continue
                    per_patch[j] = t_boxes[t_classes == cls][: self.max_targets]  # may be empty
            targets.append([_cxcywh(b, w, h) for b in per_patch])
            items.append((img["set"], img["id"], flip))
            if self.descriptor == "roi":
                roi_boxes.append((boxes, cross, w, h))
                continue
            crops = crop_patches(rgb, boxes, self.patch_size)
            for j, patch in cross.items():
                crops[j] = patch
            patches.append(augment(crops))
        levels = self.cache.batch(items)
        if self.descriptor == "roi":
            pooled = [
                self._roi_patches(jitter_rng, [lvl[b : b + 1] for lvl in levels], *roi_boxes[b])
                for b in range(len(items))
            ]
            return levels, torch.stack([d for d, _ in pooled]), torch.stack([b for _, b in pooled]), targets
        desc = pooled_features(self.backbone(torch.cat(patches)))
        return levels, desc.view(len(items), self.k, -1), targets

    def _roi_patches(self, rng, levels, boxes, cross, width, height):
        """RoI descriptors of one image's patches [K, sum C]: its own taps, or the source image's for cross patches;
        and the pooled boxes [K, 4], relative to the image each was pooled on."""
        desc, rel = self._roi(levels, jitter_boxes(rng, boxes, self.roi_jitter, width, height), width, height)
        for j, (source, box) in cross.items():
            img = self.images[source]
            source_levels = [f[None] for f in self.cache.features(img["set"], img["id"])]
            box = jitter_boxes(rng, box, self.roi_jitter, img["width"], img["height"])
            source_desc, source_rel = self._roi(source_levels, box, img["width"], img["height"])
            desc[j], rel[j] = source_desc[0], source_rel[0]
        return desc, rel
