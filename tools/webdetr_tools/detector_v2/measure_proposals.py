"""v2b: how good are the teacher's detections as proposals, measured on the held-out val (issue 34).

For coco128 val (ground truth, 80 classes, those present in val) and pennfudan val (persons), on the
identity view exactly as the cache renders it (data.render, antialiased bilinear stretch):
  - the teacher's top-100 decoded at stride 4 (its own output) and at stride 8 (from the cached level 8:
    max-pooled heat-map, avg-pooled wh), as detections: AP / AP50;
  - recall of the top-100 as proposals: share of ground-truth objects with a proposal at IoU >= 0.5 / 0.7
    (any class; and of the right class);
  - the teacher (stride 4) at input 320 / 384 / 512 (is 320 the limiting factor?).

  cd tools && /usr/bin/python3 -m webdetr_tools.detector_v2.measure_proposals \
      --config configs/detector_v2b.json [--out results/detector_v2b_proposals.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..data.datasets import read_rgb
from ..evaluation.coco_ap import ImageResult, box_iou, evaluate
from .augment import render
from .config import REPO, load_config, repo_path
from .data import Targets, ViewCache, set_rows
from .neck import TAPS, TeacherNeck
from .proposals import from_level8, from_teacher, to_rows

K = 100


def _metrics(pairs, person=None) -> dict:
    if person is not None:
        pairs = [(gt, tuple(a[p[2] == person] for a in p)) for gt, p in pairs]
    m = evaluate([ImageResult(gb, gl, b, s, lab) for (gb, gl), (b, s, lab) in pairs])
    out = {"AP": round(100 * m["AP"], 2), "AP50": round(100 * m["AP50"], 2)}
    for t in (0.5, 0.7):
        hit_any = hit_cls = n = 0
        for (gb, gl), (b, s, lab) in pairs:
            if not len(gb):
                continue
            iou = box_iou(gb, b) if len(b) else np.zeros((len(gb), 0))
            n += len(gb)
            hit_any += int((iou >= t).any(1).sum())
            hit_cls += int(((iou >= t) & (gl[:, None] == lab[None, :])).any(1).sum())
        out[f"recall{int(t * 100)}_any"] = round(100 * hit_any / max(n, 1), 1)
        out[f"recall{int(t * 100)}_class"] = round(100 * hit_cls / max(n, 1), 1)
    out["objects"] = n
    return out


@torch.no_grad()
def measure(config: dict, data_root: Path, sizes=(320, 384, 512)) -> dict:
    cache = ViewCache(repo_path(config, "cache_dir"))
    targets = Targets(config, data_root, cache)
    neck = TeacherNeck(repo_path(config, "model_json")).eval()
    size = config["feature_size"]
    person = config["classes"].index("person")
    report = {}
    for name in config["data"]["val_sets"]:
        paths = {r[0]: r[1] for r in set_rows(data_root, name, config)}
        items = [img for img in cache.images(name, "val")]
        runs = {"stride8_cached": [], **{f"stride4_{s}": [] for s in sizes}}
        level_diff = 0.0
        for img in items:
            gt = targets.ground_truth(name, img["id"])
            wh_px = [(img["width"], img["height"])]
            level8 = cache.features([(name, img["id"], 0)])[0]
            runs["stride8_cached"].append((gt, to_rows(from_level8(level8, size, K), wh_px)[0]))
            rgb = read_rgb(paths[img["id"]])
            view = cache.views(name, img["id"])[0]
            for s in sizes:
                outs = dict(zip(("neck8", "neck16", "c5", "heat_logits", "wh_head"), neck.graph(render(rgb, view, s))))
                runs[f"stride4_{s}"].append(
                    (gt, to_rows(from_teacher(outs["heat_logits"], outs["wh_head"], s, K), wh_px)[0])
                )
                if s == size:
                    level_diff = max(level_diff, float((neck(render(rgb, view, s))[0] - level8).abs().max()))
        report[name if name != "pennfudan" else "pennfudan_person"] = {
            "images": len(items),
            "cache_level8_max_abs_diff_vs_recomputed": round(level_diff, 4),
            **{k: _metrics(v, person if name == "pennfudan" else None) for k, v in runs.items()},
        }
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "tools" / "configs" / "detector_v2b.json")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.config)
    report = {
        "protocol": "held-out val (coco128 seeded_split 0.2 seed 0, ground truth, AP over the 80-class ids present "
        "in val; pennfudan val persons), identity view rendered as the cache renders it (antialiased bilinear "
        "stretch to S x S), top-100, COCO AP by evaluation/coco_ap.py; recall = share of ground-truth boxes with "
        "a top-100 box at IoU >= t",
        "taps": {k: TAPS[k] for k in ("heat_logits", "wh_head")},
        **measure(config, args.data),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
