#!/usr/bin/env python3
"""Held-out AP of the shipped detector, measured twice on the same images: in PyTorch (the release
checkpoint, the runtime's input path: decoded image -> PIL bilinear stretch -> backbone -> model) and in
the runtime through the CLI (public/models/detector; the CLI runs the WASM backend in Node, the same engine as
the browser's, and clamps boxes to the picture as the runtime does, so the PyTorch boxes are clamped too). The
model card quotes both; they must agree within 0.1 AP.

Held-out images: coco128 val (COCO ground truth, the model's 35 classes) and pennfudan val (person only:
Penn-Fudan annotates pedestrians). Detections: top-100 over queries x classes, as the runtime does.

    /usr/bin/python3 tools/eval_shipped.py [--backend wasm] [--out tools/results/detector_shipped.json]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


import numpy as np
import torch
from PIL import Image

from webdetr_tools.ship.inputs import model_input
from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.evaluation.cli_detections import cli_boxes_scores
from webdetr_tools.evaluation.coco_ap import ImageResult, evaluate
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.detector_package import load_detector
from webdetr_tools.training.evaluate import postprocess
from webdetr_tools.training.features import set_samples
from webdetr_tools.training.targets import Item, LabelSource

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent

SETS = ("coco128", "pennfudan")


def held_out(data_root: Path):
    """[(Item, image path)] of the val split of each set."""
    rows = []
    for name in SETS:
        for image_id, path, sample, split in set_samples(data_root, name):
            if split == "val":
                with Image.open(path) as image:
                    width, height = image.size
                rows.append((Item(name, image_id, width, height, split), path))
    return rows


@torch.no_grad()
def pytorch_detections(model, rows, size):
    out = {}
    for item, path in rows:
        rgb = Image.open(path).convert("RGB")
        outputs = model(model_input(rgb, size))
        boxes, scores, labels = postprocess(outputs["pred_logits"], outputs["pred_boxes"], [(item.width, item.height)])[
            0
        ]
        # The runtime (and so the CLI) clamps boxes to the picture; the same here, so both score the same boxes.
        boxes = np.clip(boxes, 0, [item.width, item.height, item.width, item.height]).astype(boxes.dtype)
        out[item] = (boxes, scores, labels)
    return out


def browser_detections(rows, classes, backend):
    command = [
        "node",
        str(REPO / "bin" / "webdetr.mjs"),
        "detect",
        *[str(p) for _, p in rows],
        "--model",
        str(REPO / "public" / "models" / "detector"),
        "--threshold",
        "0",
        "--max-detections",
        "100",
        "--json",
        "--backend",
        backend,
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if run.returncode != 0:
        raise SystemExit(f"webdetr CLI failed ({run.returncode}): {run.stdout[-2000:]}{run.stderr[-2000:]}")
    report = json.loads(run.stdout)
    out = {}
    for (item, _), result in zip(rows, report["results"]):
        dets = result["detections"]
        boxes, scores = cli_boxes_scores(dets, np.float32)
        out[item] = (boxes, scores, np.array([classes.index(d["label"]) for d in dets], np.int64))
    return out, report["backend"]


def metrics(rows, detections, labels):
    table = {}
    for name in SETS:
        pairs = []
        for item, _ in rows:
            if item.set != name:
                continue
            gt_boxes, gt_labels = labels.ground_truth_boxes(item)
            boxes, scores, classes = detections[item]
            if name == "pennfudan":  # pedestrians only are annotated: score the person class alone
                person = labels.classes.index("person")
                keep = classes == person
                boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
                gt_keep = gt_labels == person
                gt_boxes, gt_labels = gt_boxes[gt_keep], gt_labels[gt_keep]
            pairs.append(ImageResult(gt_boxes, gt_labels, boxes, scores, classes))
        m = evaluate(pairs)
        table[name] = {"images": len(pairs), "AP": round(100 * m["AP"], 2), "AP50": round(100 * m["AP50"], 2)}
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--checkpoint", type=Path, default=TOOLS / "checkpoints" / "detector.pt")
    parser.add_argument("--backend", choices=("wasm", "webgpu", "auto"), default="wasm")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--out", type=Path, default=TOOLS / "results" / "detector_shipped.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, config = load_detector(args.checkpoint, load_backbone(fetch()))
    labels = LabelSource(args.data, REPO / ".cache" / "pseudo_labels", config)
    rows = held_out(args.data)
    started = time.time()
    report = {
        "checkpoint": args.checkpoint.name,
        "step": torch.load(str(args.checkpoint))["step"],
        "command": " ".join(sys.argv),
        "pytorch": metrics(rows, pytorch_detections(model, rows, config["feature_size"]), labels),
    }
    report["pytorch_seconds"] = round(time.time() - started, 1)
    print(json.dumps(report["pytorch"]), flush=True)
    if not args.skip_browser:
        started = time.time()
        detections, backend = browser_detections(rows, labels.classes, args.backend)
        report["browser"] = metrics(rows, detections, labels)
        report["browser_backend"] = backend
        report["browser_seconds"] = round(time.time() - started, 1)
        report["max_ap_difference"] = max(
            abs(report["browser"][s][k] - report["pytorch"][s][k]) for s in SETS for k in ("AP", "AP50")
        )
        print(json.dumps(report["browser"]), f"max |difference| {report['max_ap_difference']:.2f} AP", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
