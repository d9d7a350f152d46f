"""The "first photos" gallery scored in PyTorch over a threshold sweep, for a detector checkpoint (a release
checkpoint or a v2b / v3 run checkpoint): which threshold, if any, meets issue 34's bar, and what each photo's
best scores are, and how many detections at the threshold name a class the photo does not hold (the wrong labels
"fully right" does not count). The shipped verdict stays eval_gallery.py (the package through the CLI); this is for
choosing checkpoints and thresholds without exporting each one.

    cd tools && /usr/bin/python3 -m experiments.gallery_pytorch \
        --checkpoint ../.cache/runs/detector_v2b/model_step2100.pt

Detections get the v2b package's class-wise duplicate suppression (DUPLICATE_IOU of ship/detector_v2b_package.py)
for a v2b or v3 checkpoint, none for v1; --duplicate-iou overrides it (1 turns it off: no IoU is above 1).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image

from eval_shipped import load_reference
from webdetr_tools.evaluation.gallery import load_gallery, resolve, score_gallery
from webdetr_tools.ship.inputs import model_input
from webdetr_tools.training.evaluate import postprocess

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


@torch.no_grad()
def gallery_detections(run, config, gallery, data_root, cache_dir, duplicate_iou=None):
    size = config.get("feature_size", 320)
    names = config["classes"]
    out = {}
    for entry in gallery["photos"] + gallery.get("object_free", []):
        path = resolve(entry["source"], data_root, cache_dir)
        rgb = Image.open(path).convert("RGB")
        outputs = run(model_input(rgb, size))
        boxes, scores, labels = postprocess(
            outputs["pred_logits"], outputs["pred_boxes"], [rgb.size], duplicate_iou=duplicate_iou
        )[0]
        out[entry["source"]] = [
            (names[int(c)], float(s), [float(v) for v in b]) for b, s, c in zip(boxes, scores, labels)
        ]
    return out


def other_class_detections(gallery, detections, threshold: float) -> int:
    """Detections at or above the threshold on the photos whose class is neither required nor acceptable there: the
    wrong labels a visitor sees, which "fully right" (every required class found, the top one right) does not
    count."""
    count = 0
    for entry in gallery["photos"]:
        allowed = {name for group in entry["required"] for name in group} | set(entry.get("acceptable", []))
        count += sum(1 for name, score, _ in detections[entry["source"]] if score >= threshold and name not in allowed)
    return count


def gallery_sweep(gallery, detections, thresholds) -> list[dict]:
    """Per threshold: score_gallery's totals, the other-class detections, the photos not fully right (what is
    missing, the top detection) and the object-free pictures that are not silent."""
    sweep = []
    for t in thresholds:
        report = score_gallery(gallery, detections, t)
        summary = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
        summary["other_class_detections"] = other_class_detections(gallery, detections, t)
        summary["not_fully_right"] = {
            Path(p["source"]).stem: {"missing": p["missing"], "top": p["top"]}
            for p in report["per_photo"]
            if not p["fully_right"]
        }
        summary["not_silent"] = [
            Path(e["source"]).name for e in gallery["object_free"] if any(d[1] >= t for d in detections[e["source"]])
        ]
        sweep.append(summary)
    return sweep


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--gallery", type=Path, default=TOOLS / "gallery" / "first_photos.json")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "gallery")
    parser.add_argument("--thresholds", default="0.25,0.3,0.35,0.4,0.45,0.5,0.55")
    parser.add_argument("--duplicate-iou", type=float, help="default: the v2b package's, none for v1")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    run, config = load_reference(args.checkpoint, None)
    duplicate_iou = args.duplicate_iou
    if duplicate_iou is None and config.get("variant") in ("v2b", "v3"):
        from webdetr_tools.ship.detector_v2b_package import DUPLICATE_IOU

        duplicate_iou = DUPLICATE_IOU
    gallery = load_gallery(args.gallery)
    detections = gallery_detections(run, config, gallery, args.data, args.cache, duplicate_iou)
    sweep = []
    for t in [float(v) for v in args.thresholds.split(",")]:
        report = score_gallery(gallery, detections, t)
        summary = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
        summary["other_class_detections"] = other_class_detections(gallery, detections, t)
        sweep.append(summary)
        print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint), "sweep": sweep, "detections": detections}))


if __name__ == "__main__":
    main()
