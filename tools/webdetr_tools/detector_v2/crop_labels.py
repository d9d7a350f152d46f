"""A classifier check of the pseudo-labels (detector v3b): each SSDLite pseudo box on the weakly labelled photos
is cropped and classified by an ImageNet classifier (teacher/efficientnet.py); a confident, different COCO class
relabels the box, and an animal box that the classifier calls a non-COCO animal (a lion "dog") is dropped.

Why: the detector's class errors on everyday close-ups (a bird called "dog", a toaster called "mouse") are its
SSDLite teacher's, and the file name's weak label corrects only the photo's main object. ImageNet's 1,000 classes
(about 200 of which fall under a COCO class, weak.py) recognise those objects far better than a COCO-only
detector does; training-time only, nothing of the classifier ships.

Rule per box (score >= min_score, classes COCO-80): crop with 10% context, 224x224 bilinear, probabilities p.
COCO mass m[c] = sum of p over the ImageNet classes that map to c. Relabel to c* = argmax m when m[c*] >=
relabel_mass, the box's own class has m < 0.05, c* is not person (ImageNet has no person class, so person boxes
stay too) and no other box of c* overlaps it (IoU >= 0.3: a table around a pizza stays a table). Drop when the box
is an animal class, ImageNet's top class is a non-COCO animal (index < 398) with p >= drop_animal_prob and the
box's own class has m < 0.1.

Distillation (data.crop_check.distill = w, detector v3g): instead of the relabel rule, every checked box's class
target becomes the blend (1 - w) * score * onehot(own class) + w * m, labelled with its largest entry, so the student
learns the classifier's view of every box and not only of the ~100 boxes the rule relabels (distil_rows). Person boxes
and boxes whose COCO mass is below min_mass (the crop shows something outside COCO) keep SSDLite's target; classes
that another box overlapping at 0.3 <= IoU < same_box_iou holds get no mass (a table around a pizza stays a table);
rows left on the same object with the same class (IoU >= same_box_iou) merge into the better one.

Layout: <cache>/<set>/teacher_effnet.json {image id: [decision per SSDLite row: null (kept), class, or -1 (drop)]};
<cache>/<set>/teacher_effnet_mass.json {image id: [null (not checked) or [[COCO class, mass >= 0.005], ...] per row]}

  cd tools && nice -n 10 /usr/bin/python3 -m webdetr_tools.detector_v2.crop_labels --config configs/detector_v3b.json
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.datasets import load_unlabeled, read_rgb
from ..evaluation.coco_ap import box_iou
from ..teacher.coco80 import COCO80_NAMES
from . import label_pass
from .weak import weak_class

FILE = "teacher_effnet.json"
MASS_FILE = "teacher_effnet_mass.json"
MIN_STORED_MASS = 0.005
ANIMALS = {COCO80_NAMES.index(n) for n in ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear")}
ANIMALS |= {COCO80_NAMES.index(n) for n in ("zebra", "giraffe")}
IMAGENET_ANIMALS = 398  # ImageNet classes 0-397 (sorted WordNet ids) are animals
PERSON = COCO80_NAMES.index("person")


def imagenet_to_coco(data_root: Path) -> np.ndarray:
    """[1000] COCO-80 class of each ImageNet class (-1: none), from the 1,000 sample photos' file names
    (unlabeled/ + unlabeled_extra/, one per class, named <WordNet id>_<class>)."""
    files = sorted(p.name for name in ("unlabeled", "unlabeled_extra") for p in load_unlabeled(Path(data_root) / name))
    if len(files) != 1000:
        raise ValueError(f"expected the 1,000 ImageNet sample photos under {data_root}, found {len(files)}")
    return np.array([-1 if weak_class(f) is None else weak_class(f) for f in files], np.int64)


def coco_mass(probs: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """[80] the classifier's probability summed over the ImageNet classes under each COCO class."""
    return np.bincount(mapping[mapping >= 0], weights=probs[mapping >= 0], minlength=len(COCO80_NAMES))


def decide(probs: np.ndarray, mapping: np.ndarray, row: list, others: list, rule: dict, mass: np.ndarray | None = None):
    """None (keep), a new COCO-80 class, or -1 (drop) for one pseudo row [x0, y0, x1, y1, score, class]. `mass` is
    coco_mass(probs, mapping) when the caller has it already (label_sets stores it too); computed here if not."""
    own = int(row[5])
    mass = coco_mass(probs, mapping) if mass is None else mass
    best = int(mass.argmax())
    top = int(probs.argmax())
    if own in ANIMALS and top < IMAGENET_ANIMALS and mapping[top] < 0:
        if probs[top] >= rule["drop_animal_prob"] and mass[own] < 0.1:
            return -1
    if own == PERSON or best == PERSON or best == own or mass[best] < rule["relabel_mass"] or mass[own] >= 0.05:
        return None
    same = [o for o in others if int(o[5]) == best]
    if same and (box_iou(np.array(row[:4]), np.array([o[:4] for o in same])) >= 0.3).any():
        return None
    return best


def crops(rgb: np.ndarray, rows: list, size: int = 224) -> torch.Tensor:
    height, width = rgb.shape[:2]
    image = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255  # a writable copy
    out = []
    for x0, y0, x1, y1 in (r[:4] for r in rows):
        mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        a, b = int(max(0, np.floor(x0 - mx))), int(max(0, np.floor(y0 - my)))
        c, d = int(min(width, np.ceil(x1 + mx))), int(min(height, np.ceil(y1 + my)))
        patch = image[:, b : max(d, b + 1), a : max(c, a + 1)][None]
        out.append(F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False))
    return torch.cat(out)


def apply_decisions(rows: list, decisions: list, relabelled_score: float | None = None) -> list:
    """rows with the decisions applied; a relabelled row's score becomes relabelled_score when given."""
    out = []
    for row, decision in zip(rows, decisions):
        if decision is None:
            out.append(list(row))
        elif decision >= 0:
            out.append([*row[:4], row[4] if relabelled_score is None else max(row[4], relabelled_score), decision])
    return out


def distil_rows(rows: list, decisions: list, masses: list, rule: dict) -> list:
    """SSDLite's rows with data.crop_check's distillation applied (module docstring): dropped rows go, a distilled
    row becomes [x0, y0, x1, y1, target of its class, class, [80] class targets]; others stay 6-long. Best first."""
    weight, min_mass = float(rule["distill"]), float(rule.get("min_mass", 0.3))
    same_box_iou = float(rule.get("same_box_iou", 0.7))
    kept = [(list(r), m) for r, d, m in zip(rows, decisions, masses) if d != -1]
    boxes = np.array([r[:4] for r, _ in kept], np.float64).reshape(-1, 4)
    iou = box_iou(boxes, boxes) if len(kept) else np.zeros((0, 0))
    out = []
    for i, (row, sparse) in enumerate(kept):
        own = int(row[5])
        mass = np.zeros(len(COCO80_NAMES))
        for c, v in sparse or []:
            mass[int(c)] = v
        if sparse is None or own == PERSON or mass.sum() < min_mass:
            out.append(row)
            continue
        for j, (other, _) in enumerate(kept):
            if j != i and int(other[5]) != own and 0.3 <= iou[i, j] < same_box_iou:
                mass[int(other[5])] = 0.0
        target = weight * mass
        target[own] += (1 - weight) * row[4]
        label = int(target.argmax())
        out.append([*row[:4], float(target[label]), label, target])
    out.sort(key=lambda r: -r[4])
    merged = []
    for row in out:
        if not any(
            int(m[5]) == int(row[5]) and box_iou(np.array(m[:4]), np.array([row[:4]]))[0, 0] >= same_box_iou
            for m in merged
        ):
            merged.append(row)
    return merged


@torch.no_grad()
def label_sets(config: dict, cache_root: Path, data_root: Path, log=print) -> None:
    from ..teacher.efficientnet import EfficientNetB0
    from .data import set_rows
    from .second_teacher import rows_path

    rule = config["data"]["crop_check"]
    mapping, model = imagenet_to_coco(data_root), EfficientNetB0().eval()
    for name in rule["sets"]:
        out, mass_out = Path(cache_root) / name / FILE, Path(cache_root) / name / MASS_FILE
        if out.is_file() and mass_out.is_file():
            log(f"{name}: done already")
            continue
        paths = {image_id: path for image_id, path, _, _ in set_rows(data_root, name, config)}
        ssd = json.loads(rows_path(cache_root, name).read_text())
        decisions, masses, changed, dropped, started = {}, {}, 0, 0, time.time()
        for k, (image_id, rows) in enumerate(ssd.items()):
            index = [i for i, r in enumerate(rows) if r[4] >= rule["min_score"]]
            checked = [rows[i] for i in index]
            decisions[image_id], masses[image_id] = [None] * len(rows), [None] * len(rows)
            if checked:
                probs = model(crops(read_rgb(paths[image_id]), checked)).numpy().astype(np.float64)
                for j, row in enumerate(checked):
                    mass = coco_mass(probs[j], mapping)
                    d = decide(probs[j], mapping, row, checked[:j] + checked[j + 1 :], rule, mass)
                    decisions[image_id][index[j]] = d
                    masses[image_id][index[j]] = [
                        [c, round(float(mass[c]), 4)] for c in np.flatnonzero(mass >= MIN_STORED_MASS).tolist()
                    ]
                    changed += d is not None and d >= 0
                    dropped += d == -1
            if (k + 1) % 100 == 0 or k + 1 == len(ssd):
                rate = (time.time() - started) / (k + 1)
                log(f"{name}: {k + 1}/{len(ssd)}, relabelled {changed}, dropped {dropped}, {rate:.2f} s/img")
        label_pass.write_json(out, decisions)
        label_pass.write_json(mass_out, masses)


def main(argv=None):
    label_pass.main(argv, __doc__.splitlines()[0], "crop_check", label_sets)


if __name__ == "__main__":
    main()
