#!/usr/bin/env python3
"""Fit the match-score calibration of a RoI one-shot checkpoint on the labeled sets' training splits
(webdetr_tools/oneshot/calibration.py) and write it into the checkpoint (model_config.score_calibration and
calibration_overlap / calibration_scale, plus a 'calibration' record with the data, the fit and the suggested score
threshold).

Features come from the runtime's input path (decoded picture -> PIL bilinear stretch -> backbone), as in
tools/eval_shipped_oneshot.py. Held-out images are never read. The suggested threshold is the calibrated
score with the best F2 (recall weighted) over the boxes of the training same-image pairs (the API searches
the picture a patch is drawn on; each set weighing the same); F1's and the all-pairs optima are recorded.

    /usr/bin/python3 tools/calibrate_oneshot.py [--checkpoint tools/checkpoints/oneshot.pt] [--queries 120]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path


import numpy as np
import torch

from webdetr_tools.oneshot.runtime_path import SETS, RuntimePathDetector, whole_pixel_box
from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.evaluation.oneshot_ap import _targets, make_pairs, make_queries
from webdetr_tools.oneshot.calibration import fit_logistic, match_labels
from webdetr_tools.oneshot.model import box_cxcywh_to_xyxy
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.oneshot_package import load_oneshot
from webdetr_tools.training.features import set_samples

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


@torch.no_grad()
def set_features(model, backbone, samples, queries, pairs):
    """Per kept box of every pair: calibration inputs [1 + taps], its match label, whether in a same-image pair."""
    detector = RuntimePathDetector(model, backbone, samples, model.config.image_size)
    features, labels, same_image = [], [], []
    for n, t, same in pairs:
        query = queries[n]
        desc, patch_box = detector.descriptor(query), detector.patch_box(query)
        memory, shapes = detector.memory(t)
        logits, boxes = model.decode(memory, shapes, desc, patch_box)
        inputs = model.calibration_inputs(detector.levels(t), desc, logits[-1], boxes[-1], patch_box)[0].numpy()
        ts = samples[t]
        px = (box_cxcywh_to_xyxy(boxes[-1, 0]) * torch.tensor([ts.width, ts.height, ts.width, ts.height])).numpy()
        keep, label = match_labels(
            px,
            inputs[:, 0],
            _targets(samples, query, t, same),
            whole_pixel_box(query.box, samples[query.image]) if same else None,
        )
        features.append(inputs[keep])
        labels.append(label[keep])
        same_image.append(np.full(int(keep.sum()), same))
    return np.concatenate(features), np.concatenate(labels), np.concatenate(same_image)


def best_f_threshold(scores, labels, weights, beta=1.0):
    """The score whose threshold maximises F-beta over the boxes (weighted), and that F-beta."""
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum((labels * weights)[order])
    fp = np.cumsum(((1 - labels) * weights)[order])
    positives = (labels * weights).sum()
    f = (1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * (positives - tp) + fp)
    best = int(np.argmax(f))
    return float(scores[order][best]), float(f[best])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=TOOLS / "checkpoints" / "oneshot.pt")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--queries", type=int, default=120, help="queries per set (protocol: balanced over classes)")
    parser.add_argument("--cross-images", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beta", type=float, default=2.0, help="the suggested threshold maximises F-beta")
    parser.add_argument(
        "--overlap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also weigh each box's IoU with a stronger box of its patch (OneShotConfig.calibration_overlap)",
    )
    parser.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also weigh |log(box area / patch area)| (OneShotConfig.calibration_scale)",
    )
    parser.add_argument("--out", type=Path, default=TOOLS / "results" / "oneshot_calibration.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, _, step = load_oneshot(args.checkpoint)
    if model.config.patch_descriptor != "roi":
        raise SystemExit(f"{args.checkpoint}: calibration needs a RoI model (patch_descriptor 'roi')")
    model.config.calibration_overlap = args.overlap  # what calibration_inputs computes
    model.config.calibration_scale = args.scale
    backbone = load_backbone(fetch())
    started = time.time()
    features, labels, weights, same, per_set = [], [], [], [], {}
    for name in args.sets.split(","):
        samples = [r[2] for r in set_samples(args.data, name) if r[3] == "train"]
        queries = make_queries(samples, args.queries, args.seed)
        pairs = make_pairs(samples, queries, args.cross_images, args.seed)
        x, y, in_image = set_features(model, backbone, samples, queries, pairs)
        features.append(x), labels.append(y), weights.append(np.full(len(y), 1.0 / len(y))), same.append(in_image)
        per_set[name] = {
            "images": len(samples),
            "queries": len(queries),
            "pairs": len(pairs),
            "boxes": len(y),
            "matches": int(y.sum()),
        }
        print(f"[{time.time() - started:6.1f}s] {name}: {per_set[name]}", flush=True)
    x, y, w, same = (np.concatenate(v) for v in (features, labels, weights, same))
    params = fit_logistic(x, y, w)
    scores = 1 / (1 + np.exp(-(x @ params[:-1] + params[-1])))
    # The suggested threshold serves the API's use, "find the others" in the picture the patch was drawn on:
    # the best F-beta over the same-image pairs' boxes, beta 2 (a missed look-alike costs more than a box
    # the user passes over). F1's best, and both over all pairs, are recorded beside it.
    threshold, f_beta = best_f_threshold(scores[same], y[same], w[same], args.beta)
    thresholds = {
        f"{kind}_f{b:g}": dict(
            zip(("threshold", "f"), (round(v, 4) for v in best_f_threshold(scores[mask], y[mask], w[mask], b)))
        )
        for kind, mask in (("same_image", same), ("all_pairs", np.ones_like(same)))
        for b in (1.0, args.beta)
    }
    record = {
        "weights": [round(float(v), 6) for v in params],
        "features": ["logit", "cos_s8", "cos_s16", "cos_s32"]
        + (["overlap"] if args.overlap else [])
        + (["scale"] if args.scale else []),
        "score_threshold": round(threshold, 3),
        "threshold_rule": f"best F{args.beta:g}, same-image training pairs",
        "thresholds": thresholds,
        "sets": per_set,
        "protocol": {"split": "train", "queries": args.queries, "cross_images": args.cross_images, "seed": args.seed},
        "command": " ".join(sys.argv),
        "iteration": step,
    }
    payload = torch.load(str(args.checkpoint), map_location="cpu")
    payload["model_config"] = dict(
        payload["model_config"],
        score_calibration=record["weights"],
        calibration_overlap=args.overlap,
        calibration_scale=args.scale,
    )
    payload["calibration"] = record
    tmp = args.checkpoint.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, args.checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(record, checkpoint=args.checkpoint.name), indent=1) + "\n")
    print(
        f"calibration {record['weights']}, suggested threshold {record['score_threshold']} "
        f"(F{args.beta:g} {f_beta:.3f}; {thresholds}) "
        f"-> {args.checkpoint}, {args.out} ({time.time() - started:.0f} s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
