"""Held-out numbers of a detector v2 checkpoint (a run's checkpoint.pt or model_step<N>.pt): coco128 val AP
(all classes present in val) and pennfudan val persons on the cached identity views, and the bundled samples'
top detections from the picture (runtime path: PIL bilinear stretch -> teacher neck -> model).

  cd tools && /usr/bin/python3 -m webdetr_tools.detector_v2.evaluate_run \
      --checkpoint ../.cache/runs/detector_v2/checkpoint.pt [--out results/detector_v2_interim.json]
For a v2b checkpoint, --stride4 also scores it with the teacher's proposals decoded at stride 4 (its own
heat-map, as a browser graph would decode it) on the identity view recomputed from the photo.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.datasets import read_rgb
from ..training.evaluate import postprocess
from .augment import render
from .config import REPO, repo_path
from .data import Targets, ViewCache, set_rows
from .loop import _ap, evaluate
from .neck import TeacherNeck
from .variants import build as build_model, forward_eval

SAMPLES = ("chelsea", "coffee", "astronaut")


@torch.no_grad()
def sample_detections(model, neck, config, k: int = 5) -> dict:
    size, out = config["feature_size"], {}
    for name in SAMPLES:
        pil = Image.open(REPO / "public" / "samples" / f"{name}.jpg").convert("RGB")
        x = torch.from_numpy(np.asarray(pil.resize((size, size), Image.BILINEAR), np.float32).copy()).permute(2, 0, 1)[
            None
        ]
        logits, boxes = forward_eval(model, neck(x))
        b, s, lab = postprocess(logits, boxes, [pil.size], k=k)[0]
        out[name] = [
            [config["classes"][c], round(float(v), 3), [round(float(t)) for t in bb]] for bb, v, c in zip(b, s, lab)
        ]
    return out


@torch.no_grad()
def evaluate_stride4(model, neck, cache, targets, config, data_root) -> dict:
    """The loop's held-out protocol, but levels and stride-4 proposals recomputed from the photo's identity view."""
    from .proposals import from_teacher

    size, metrics = config["feature_size"], {}
    for name in config["data"]["val_sets"]:
        paths = {r[0]: r[1] for r in set_rows(data_root, name, config)}
        pairs = []
        for img in cache.images(name, "val"):
            x = render(read_rgb(paths[img["id"]]), cache.views(name, img["id"])[0], size)
            neck8, neck16, c5, heat, wh = neck.graph(x)
            levels = [torch.cat([neck8, F.max_pool2d(heat, 2), F.avg_pool2d(wh, 2)], 1), neck16, c5]
            logits, boxes = forward_eval(model, levels, from_teacher(heat, wh, size, model.num_queries))
            pred = postprocess(logits, boxes, [(img["width"], img["height"])])[0]
            pairs.append((targets.ground_truth(name, img["id"]), pred))
        if name == "pennfudan":
            person = targets.classes.index("person")
            pairs = [(gt, tuple(a[p[2] == person] for a in p)) for gt, p in pairs]
            name = "pennfudan_person"
        metrics.update({f"{name}_{k}": round(100 * v, 2) for k, v in _ap(pairs).items()})
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--stride4", action="store_true", help="v2b: also with stride-4 teacher proposals")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, map_location="cpu")
    config = state["config"]
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    cache = ViewCache(repo_path(config, "cache_dir"))
    neck = TeacherNeck(repo_path(config, "model_json")).eval()
    report = {
        "checkpoint": str(args.checkpoint.name),
        "step": state["step"],
        "held_out": {
            k: round(v * 100, 2) for k, v in evaluate(model, cache, Targets(config, args.data, cache), config).items()
        },
        "samples": sample_detections(model, neck, config),
    }
    if args.stride4:
        targets = Targets(config, args.data, cache)
        report["held_out_stride4_proposals"] = evaluate_stride4(model, neck, cache, targets, config, args.data)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
