"""Why the shipped one-shot model misses the other instances (issue 26, "failure analysis first"): for every query
instance and every other instance of its class in the same picture, is there a box on it at all (IoU >= 0.5, any
score) among the model's query slots, or is it there but scored under the package's threshold? That decides between
localisation work (no box) and ranking work (a box, low score).

Two views of the same model: the whole picture alone (its 20 slots per patch, no NMS: what the decoder proposes), and
the runtime's search (zoomed windows for small patches, views merged by NMS at 0.5: what the demo shows). Pictures:
every coco128 held-out picture with two or more instances of a class (all instances as queries), plus the demo's
zebra (000000000154) and giraffe (000000000144) scenes wherever they are (their split is recorded: a training
picture is not held out). Also: does the CenterNet teacher's top-100 (any class) hold each target? (coco128 is COCO
train2017, which the teacher saw: an optimistic figure.)

  cd tools && /usr/bin/python3 -m experiments.oneshot_failure_analysis \
      [--out experiments/results/oneshot_failure_analysis.json]
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.evaluation.oneshot_ap import OneShotQuery
from webdetr_tools.oneshot.runtime_path import ZoomedDetector
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.oneshot_package import ZOOM, load_oneshot, score_threshold
from webdetr_tools.teacher.centernet_teacher import CenterNetTeacher
from webdetr_tools.training.features import set_samples

TOOLS = Path(__file__).resolve().parents[1]
SCENES = {"000000000154": "zebras", "000000000144": "giraffes"}
IOU = 0.5


def iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(boxes[:, 0], box[0]), np.maximum(boxes[:, 1], box[1])
    x1, y1 = np.minimum(boxes[:, 2], box[2]), np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + (box[2] - box[0]) * (box[3] - box[1]) - inter + 1e-9)


def outcome(boxes, scores, target, threshold):
    """'found' (a box on it scores >= threshold), 'low' (a box on it, every such box below), 'absent' (no box on it),
    with the best IoU and the best score on it."""
    overlap = iou(boxes, target)
    on = overlap >= IOU
    best = float(scores[on].max()) if on.any() else None
    kind = "absent" if best is None else "found" if best >= threshold else "low"
    return {"outcome": kind, "best_iou": round(float(overlap.max()) if len(overlap) else 0.0, 3), "score_on_it": best}


@torch.no_grad()
def analyse(detector, samples, index, threshold, teacher):
    """Every instance of a class with two or more in picture `index`, as a query against the others; and whether
    the CenterNet teacher's top-100 boxes (any class, any score) hold each target: the proposals a class-agnostic
    search could score instead of the query slots' own boxes."""
    s = samples[index]
    rows = []
    proposals = np.array([d.box for d in teacher.detect(np.asarray(Image.open(s.image).convert("RGB")))], np.float32)
    for k, label in enumerate(s.labels):
        others = [j for j, other in enumerate(s.labels) if other == label and j != k]
        if not others:
            continue
        query = OneShotQuery(image=index, instance=k, box=tuple(float(v) for v in s.boxes[k]), label=label)
        desc, patch_box = detector.descriptor(query), detector.patch_box(query)
        xyxy, score = detector.relative_detections(detector.levels(index), detector.memory(index), desc, patch_box)
        whole = (xyxy * torch.tensor([s.width, s.height, s.width, s.height])).numpy(), score.numpy()
        searched = detector(query, [index])[0]
        side = max(s.boxes[k][2] - s.boxes[k][0], s.boxes[k][3] - s.boxes[k][1]) / max(s.width, s.height)
        for j in others:
            rows.append(
                {
                    "image": s.image.stem,
                    "label": label,
                    "query": k,
                    "target": j,
                    "query_side": round(float(side), 3),
                    "whole_picture_slots": outcome(*whole, s.boxes[j], threshold),
                    "runtime_search": outcome(*searched, s.boxes[j], threshold),
                    "teacher_proposal_iou": round(float(iou(proposals, s.boxes[j]).max()), 3),
                }
            )
    return rows


def summary(rows):
    out = {}
    for view in ("whole_picture_slots", "runtime_search"):
        counts = Counter(r[view]["outcome"] for r in rows)
        out[view] = {k: counts.get(k, 0) for k in ("found", "low", "absent")}
        low = [r[view]["score_on_it"] for r in rows if r[view]["outcome"] == "low"]
        out[view]["median_score_when_low"] = round(float(np.median(low)), 3) if low else None
    out["teacher_top100_holds_target"] = sum(r["teacher_proposal_iou"] >= IOU for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=TOOLS.parent.parent / "shared/data")
    parser.add_argument("--checkpoint", type=Path, default=TOOLS / "checkpoints/oneshot.pt")
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments/results/oneshot_failure_analysis.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config, _ = load_oneshot(args.checkpoint)
    threshold = score_threshold(args.checkpoint)
    backbone = load_backbone(fetch())
    teacher = CenterNetTeacher(fetch())
    rows = set_samples(args.data, "coco128")
    samples = [r[2] for r in rows]
    detector = ZoomedDetector(
        model, backbone, samples, config["image_size"], ZOOM["grid"], ZOOM["side"], ZOOM["below"], ZOOM["nmsIou"]
    )
    detector.max_detections = 1000  # every merged box, not the top 20: "any score"
    held_out, scenes = [], {}
    for i, (stem, _, _, part) in enumerate(rows):
        if part == "val":
            held_out += analyse(detector, samples, i, threshold, teacher)
        if stem in SCENES:
            scenes[SCENES[stem]] = {
                "image": stem,
                "split": part,
                "pairs": analyse(detector, samples, i, threshold, teacher),
            }
    result = {
        "checkpoint": args.checkpoint.name,
        "threshold": threshold,
        "iou": IOU,
        "zoom": ZOOM,
        "held_out_coco128_same_image": {"pairs": len(held_out), **summary(held_out)},
        # Crowds dominate the pairs (a picture of 15 people is 210 of them): the rest apart.
        "held_out_without_person": {
            "pairs": sum(r["label"] != "person" for r in held_out),
            **summary([r for r in held_out if r["label"] != "person"]),
        },
        "scenes": {name: {"split": v["split"], **summary(v["pairs"])} for name, v in scenes.items()},
        "scene_pairs": {name: v["pairs"] for name, v in scenes.items()},
        "held_out_pairs": held_out,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("threshold", "held_out_coco128_same_image", "held_out_without_person", "scenes")},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
