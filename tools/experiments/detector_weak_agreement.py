"""Does a detector checkpoint learn its training labels' class corrections? On the weakly labelled TRAINING photos
(ImageNet samples whose file name maps to a COCO class: unlabeled/, unlabeled_extra/ less the gallery split, and the
config's weak_sets), how often is the top detection's class the file name's class; step 0 of a v3 run is SSDLite
alone. Research only (issue 34): it found that v3 / v3b agree exactly as often as SSDLite.

    cd tools && /usr/bin/python3 -m experiments.detector_weak_agreement --config configs/detector_v3b.json \
        ../.cache/runs/detector_v3b/model_step0.pt ../.cache/runs/detector_v3b/model_step3246.pt
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image

from eval_shipped import load_reference
from webdetr_tools.detector_v2.config import load_config, repo_path
from webdetr_tools.detector_v2.data import ViewCache, set_rows
from webdetr_tools.detector_v2.weak import weak_class
from webdetr_tools.ship.inputs import model_input
from webdetr_tools.teacher.coco80 import COCO80_NAMES

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


def weak_train_photos(config: dict, data_root: Path) -> list[tuple[str, Path, int]]:
    cache = ViewCache(repo_path(config, "cache_dir"))
    names = ["unlabeled", "unlabeled_extra", *config["data"].get("weak_sets", {})]
    out = []
    for name in names:
        paths = {image_id: path for image_id, path, _, _ in set_rows(data_root, name, config)}
        for image in cache.images(name, "train"):
            if weak_class(image["file"]) is not None:
                out.append((name, paths[image["id"]], weak_class(image["file"])))
    return out


@torch.no_grad()
def agreement(checkpoint: Path, photos) -> dict[str, list[int]]:
    model, config = load_reference(checkpoint, None)
    classes, counts = config["classes"], {}
    for name, path, cls in photos:
        logits = model(model_input(Image.open(path).convert("RGB"), config["feature_size"]))["pred_logits"][0]
        top = classes[int(logits.max(0).values.argmax())]
        hit, total = counts.get(name, [0, 0])
        counts[name] = [hit + (top == COCO80_NAMES[cls]), total + 1]
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--config", type=Path, required=True, help="the run's config (its sets and cache)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    photos = weak_train_photos(load_config(args.config), args.data)
    report = {}
    for checkpoint in args.checkpoints:
        report[str(checkpoint)] = agreement(checkpoint, photos)
        print(checkpoint, {k: f"{h}/{n}" for k, (h, n) in report[str(checkpoint)].items()}, flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
