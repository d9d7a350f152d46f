"""Evaluate a trained detector checkpoint on the held-out split (see webdetr_tools/training/evaluate.py
for the metrics): COCO AP / AP50 vs coco128 val ground truth, pennfudan val persons, and the teacher.

  /usr/bin/python3 tools/evaluate.py --checkpoint .cache/runs/detector/model_final.pt [--fp16]
--fp16 rounds every weight to float16 and back first (the accuracy cost of shipping fp16 weights).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="held-out AP of a detector checkpoint")
    parser.add_argument("--checkpoint", type=Path, default=REPO / ".cache" / "runs" / "detector" / "checkpoint.pt")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--labels", type=Path, default=REPO / ".cache" / "pseudo_labels")
    parser.add_argument("--split", default="val")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    from webdetr_tools.training.detector import build_detector
    from webdetr_tools.training.evaluate import evaluate_detector
    from webdetr_tools.training.features import FeatureCache
    from webdetr_tools.training.targets import LabelSource

    torch.set_num_threads(args.threads)
    state = torch.load(args.checkpoint, map_location="cpu")
    config = state["config"]
    cache = FeatureCache(args.cache, config["feature_size"])
    channels = cache.index(config["data"]["sets"][0])["channels"]
    model = build_detector(config["model"], len(config["classes"]), channels, config["seed"])
    weights = state["model"]
    if args.fp16:
        weights = {k: v.half().float() if v.is_floating_point() else v for k, v in weights.items()}
    model.load_state_dict(weights)
    metrics = evaluate_detector(
        model.eval(), cache, LabelSource(args.data, args.labels, config), config["data"]["sets"], args.split
    )
    print(
        json.dumps(
            dict(
                checkpoint=str(args.checkpoint),
                step=state["step"],
                fp16=args.fp16,
                split=args.split,
                **{k: round(v, 4) for k, v in metrics.items()},
            )
        )
    )


if __name__ == "__main__":
    main()
