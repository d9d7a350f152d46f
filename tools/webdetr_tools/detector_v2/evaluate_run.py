"""Held-out numbers of a detector v2 checkpoint (a run's checkpoint.pt or model_step<N>.pt): coco128 val AP
(all classes present in val) and pennfudan val persons on the cached identity views, and the bundled samples'
top detections from the picture (runtime path: PIL bilinear stretch -> teacher neck -> model).

  cd tools && /usr/bin/python3 -m webdetr_tools.detector_v2.evaluate_run \
      --checkpoint ../.cache/runs/detector_v2/checkpoint.pt [--out results/detector_v2_interim.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..training.evaluate import postprocess
from .config import REPO, repo_path
from .data import Targets, ViewCache
from .loop import evaluate
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, map_location="cpu")
    config = state["config"]
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    cache = ViewCache(repo_path(config, "cache_dir"))
    report = {
        "checkpoint": str(args.checkpoint.name),
        "step": state["step"],
        "held_out": {
            k: round(v * 100, 2) for k, v in evaluate(model, cache, Targets(config, args.data, cache), config).items()
        },
        "samples": sample_detections(model, TeacherNeck(repo_path(config, "model_json")).eval(), config),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
