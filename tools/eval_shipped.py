#!/usr/bin/env python3
"""Held-out AP of the shipped detector, measured twice on the same images: in PyTorch (the release
checkpoint, the runtime's input path: decoded image -> PIL bilinear stretch -> backbone -> model) and in
the runtime through the CLI (public/models/detector; the CLI runs the WASM backend in Node, the same engine as
the browser's, and clamps boxes to the picture as the runtime does, so the PyTorch boxes are clamped too). The
model card quotes both; they must agree within 0.1 AP.

Held-out images: coco128 val (COCO ground truth, the model's classes: 80 for v2b, 35 for v1) and pennfudan val
(person only: Penn-Fudan annotates pedestrians). Detections: top-100 over queries x classes, as the runtime does,
then the package's class-wise duplicate suppression (manifest output.duplicateIou, if any) on the PyTorch side too.

    /usr/bin/python3 tools/eval_shipped.py [--backend wasm] [--out tools/results/detector_v2b_shipped.json]

The shipped detector is ship/detector_reference.SHIPPED_DETECTOR's release (tools/checkpoints/detector_<variant>.pt;
tools/results/detector_shipped.json is the v1 detector's report). Another package and its checkpoint (a v2b / v3
checkpoint is recognised by its config and run as ship/detector_reference.proposal_reference, --v2b-stride a v2b's
proposal stride; AP over the 80 classes it was given):

    /usr/bin/python3 tools/eval_shipped.py --checkpoint CKPT --model .cache/v2b/detector --out OUT.json

The report also sweeps the score threshold on the browser's (else PyTorch's) detections: precision, recall and
F1 at IoU 0.5 (right class) over both sets at once, and prints the F1-best one, how a package's
output.scoreThreshold is chosen.
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
from webdetr_tools.evaluation.coco_ap import ImageResult, box_iou, evaluate
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.detector_package import load_detector
from webdetr_tools.ship.detector_reference import SHIPPED_DETECTOR, proposal_reference, shipped_checkpoint
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
def pytorch_detections(model, rows, size, duplicate_iou=None):
    out = {}
    for item, path in rows:
        rgb = Image.open(path).convert("RGB")
        outputs = model(model_input(rgb, size))
        boxes, scores, labels = postprocess(
            outputs["pred_logits"], outputs["pred_boxes"], [(item.width, item.height)], duplicate_iou=duplicate_iou
        )[0]
        # The runtime (and so the CLI) clamps boxes to the picture; the same here, so both score the same boxes.
        boxes = np.clip(boxes, 0, [item.width, item.height, item.width, item.height]).astype(boxes.dtype)
        out[item] = (boxes, scores, labels)
    return out


def browser_detections(rows, classes, backend, model=REPO / "public" / "models" / "detector"):
    command = [
        "node",
        str(REPO / "bin" / "webdetr.mjs"),
        "detect",
        *[str(p) for _, p in rows],
        "--model",
        str(model),
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


def threshold_sweep(rows, detections, labels, thresholds=None):
    """Precision / recall / F1 at IoU 0.5 (right class, each ground-truth box matched once, highest score first)
    of the detections above each threshold, both sets pooled (pennfudan: persons only)."""
    thresholds = thresholds if thresholds is not None else [round(0.05 * k, 2) for k in range(1, 15)]
    person = labels.classes.index("person")
    counts = {t: [0, 0, 0] for t in thresholds}  # tp, fp, fn
    for item, _ in rows:
        gt_boxes, gt_labels = labels.ground_truth_boxes(item)
        boxes, scores, classes = detections[item]
        if item.set == "pennfudan":
            keep, gt_keep = classes == person, gt_labels == person
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
            gt_boxes, gt_labels = gt_boxes[gt_keep], gt_labels[gt_keep]
        order = np.argsort(-scores, kind="stable")
        for t in thresholds:
            used = np.zeros(len(gt_boxes), bool)
            tp = fp = 0
            for k in order:
                if scores[k] < t:
                    break
                candidates = np.flatnonzero((gt_labels == classes[k]) & ~used)
                if len(candidates):
                    iou = box_iou(boxes[k : k + 1], gt_boxes[candidates])[0]
                    if iou.max() >= 0.5:
                        used[candidates[int(iou.argmax())]] = True
                        tp += 1
                        continue
                fp += 1
            counts[t][0] += tp
            counts[t][1] += fp
            counts[t][2] += len(gt_boxes) - int(used.sum())
    table = []
    for t, (tp, fp, fn) in counts.items():
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        table.append({"threshold": t, "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)})
    return table


def load_reference(checkpoint: Path, v2b_stride: int, manifest: dict | None = None):
    """(image [1,3,S,S] 0-255 -> {"pred_logits", "pred_boxes"}, config): the release detector, or a detector v2b / v3
    checkpoint (its config's variant; v2b with the teacher's proposals at v2b_stride; v3 with the crop check and int8
    weights its package's manifest records, if given: what the package computes, up to its fp16 rounding)."""
    reference = proposal_reference(checkpoint, v2b_stride, manifest)
    return reference if reference is not None else load_detector(checkpoint, load_backbone(fetch()))


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
    parser.add_argument("--checkpoint", type=Path, default=shipped_checkpoint(), help="default: the shipped release")
    parser.add_argument("--model", type=Path, default=REPO / "public" / "models" / "detector", help="package directory")
    parser.add_argument("--v2b-stride", type=int, choices=(4, 8), help="v2b: proposal stride (default: as trained)")
    parser.add_argument("--backend", choices=("wasm", "webgpu", "auto"), default="wasm")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-pytorch", action="store_true")
    parser.add_argument("--out", type=Path, default=TOOLS / "results" / f"detector_{SHIPPED_DETECTOR}_shipped.json")
    args = parser.parse_args()
    args.model = args.model.resolve()  # the CLI runs from the repository root
    torch.set_num_threads(2)
    manifest_path = args.model / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    model, config = load_reference(args.checkpoint, args.v2b_stride, manifest)
    labels = LabelSource(args.data, REPO / ".cache" / "pseudo_labels", config)
    rows = held_out(args.data)
    # The package's post-processing, so PyTorch scores what the runtime returns.
    duplicate_iou = manifest["output"].get("duplicateIou") if manifest else None
    started = time.time()
    report = {
        "checkpoint": args.checkpoint.name,
        "step": torch.load(str(args.checkpoint), map_location="cpu")["step"],
        "model": str(args.model.relative_to(REPO)) if args.model.is_relative_to(REPO) else str(args.model),
        "command": " ".join(sys.argv),
        "duplicate_iou": duplicate_iou,
    }
    sweep = None
    if not args.skip_pytorch:
        reference = pytorch_detections(model, rows, config["feature_size"], duplicate_iou)
        report["pytorch"] = metrics(rows, reference, labels)
        report["pytorch_seconds"] = round(time.time() - started, 1)
        print(json.dumps(report["pytorch"]), flush=True)
        sweep = ("pytorch", threshold_sweep(rows, reference, labels))
    if not args.skip_browser:
        started = time.time()
        detections, backend = browser_detections(rows, labels.classes, args.backend, args.model)
        report["browser"] = metrics(rows, detections, labels)
        sweep = ("browser", threshold_sweep(rows, detections, labels))
        report["browser_backend"] = backend
        report["browser_seconds"] = round(time.time() - started, 1)
        print(json.dumps(report["browser"]), flush=True)
        if "pytorch" in report:
            report["max_ap_difference"] = max(
                abs(report["browser"][s][k] - report["pytorch"][s][k]) for s in SETS for k in ("AP", "AP50")
            )
            print(f"max |difference| {report['max_ap_difference']:.2f} AP", flush=True)
    if sweep is not None:
        best = max(sweep[1], key=lambda r: r["f1"])
        report["threshold_sweep"] = {"detections": sweep[0], "rows": sweep[1], "f1_best": best}
        print(f"threshold sweep ({sweep[0]}): F1-best {json.dumps(best)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
