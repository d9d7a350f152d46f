"""A second pseudo-label teacher for detector v2 (v2c): SSDLite MobileNetV2 (teacher/ssdlite.py) run once on
each training photo, its detections fused with the CenterNet teacher's before the targets are made.

Why: every photo of the "first photos" gallery that v2b gets wrong is one the CenterNet teacher scores low; SSDLite
finds many of those close-ups (toaster, purse, cup, cell phone). As a teacher it costs nothing at run time: the
shipped graph is unchanged, only the targets it learns from improve.

Fusion (fuse_rows): CenterNet rows (>= 0.01, as cached) + SSDLite rows >= min_score (and, on weakly labelled
photos, SSDLite rows of the file name's class >= 0.05, so a weak label can use SSDLite's box), then per-class
greedy NMS at iou (the higher score keeps its box). The result feeds the same weak-label and threshold steps as
before (data.Targets).

Layout: <cache>/<set>/teacher_ssdlite.json {image id: [[x0, y0, x1, y1, score, COCO-80 class], ...]} (source
pixels, best first), written per set once the set is done (rerunning skips done sets).

  cd tools && nice -n 10 /usr/bin/python3 -m webdetr_tools.detector_v2.second_teacher --config configs/detector_v2c.json
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from . import label_pass

FILE = "teacher_ssdlite.json"
WEAK_MIN_SCORE = 0.05


def rows_path(cache_root: Path, name: str) -> Path:
    return Path(cache_root) / name / FILE


def fuse_rows(centernet_rows, ssd_rows, min_score: float, iou: float, weak_class: int | None = None):
    """Both lists [[x0, y0, x1, y1, score, class], ...]; returns the fused rows, best first."""
    from torchvision.ops import batched_nms

    picked = [r for r in ssd_rows if r[4] >= min_score or (int(r[5]) == weak_class and r[4] >= WEAK_MIN_SCORE)]
    rows = [list(r) for r in centernet_rows] + [list(r) for r in picked]
    if not rows:
        return []
    table = torch.tensor([r[:5] for r in rows], dtype=torch.float64)
    keep = batched_nms(table[:, :4], table[:, 4], torch.tensor([int(r[5]) for r in rows]), iou)
    return [rows[k] for k in keep.tolist()]


def label_sets(config: dict, cache_root: Path, data_root: Path, log=print) -> None:
    from PIL import Image

    from ..teacher.ssdlite import SsdLite
    from .data import ViewCache, set_rows

    second = config["data"]["second_teacher"]
    skip = set(config["data"]["ground_truth_sets"]) | set(config["data"].get("negative_sets", []))
    cache, model = ViewCache(cache_root), SsdLite().eval()
    for name in config["data"]["sets"]:
        out = rows_path(cache_root, name)
        if name in skip or out.is_file():
            log(f"{name}: {'skipped (no teacher targets)' if name in skip else 'done already'}")
            continue
        paths = {image_id: path for image_id, path, _, _ in set_rows(data_root, name, config)}
        images = [i for i in cache.images(name) if i["split"] == "train"]
        rows, started = {}, time.time()
        for k, image in enumerate(images):
            boxes, scores, labels = model.detect(Image.open(paths[image["id"]]), second.get("iou", 0.5), 0.01, 100)
            rows[image["id"]] = [
                [*(round(float(v), 2) for v in b), round(float(s), 4), int(c)] for b, s, c in zip(boxes, scores, labels)
            ]
            if (k + 1) % 100 == 0 or k + 1 == len(images):
                rate = (time.time() - started) / (k + 1)
                log(f"{name}: {k + 1}/{len(images)}, {rate:.2f} s/img, ETA {rate * (len(images) - k - 1):.0f} s")
        label_pass.write_json(out, rows)


def main(argv=None):
    label_pass.main(argv, __doc__.splitlines()[0], "second_teacher", label_sets)


if __name__ == "__main__":
    main()
