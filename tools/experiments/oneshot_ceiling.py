#!/usr/bin/env python3
"""How far re-scoring alone can take a one-shot checkpoint's AP50: the command line of
webdetr_tools/evaluation/oneshot_ceiling.py (what it measures is described there).

    PYTHONPATH=tools /usr/bin/python3 tools/experiments/oneshot_ceiling.py [--checkpoint tools/checkpoints/oneshot.pt] \
        [--sets coco128] [--out F]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.evaluation.oneshot_ceiling import set_ceiling
from webdetr_tools.oneshot.runtime_path import MAX_DETECTIONS, SETS
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.oneshot_package import load_oneshot
from webdetr_tools.training.features import set_samples

TOOLS = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=TOOLS.parent.parent / "shared" / "data")
    parser.add_argument("--checkpoint", type=Path, default=TOOLS / "checkpoints" / "oneshot.pt")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, config, step = load_oneshot(args.checkpoint)
    backbone = load_backbone(fetch())
    report = {
        "checkpoint": str(args.checkpoint),
        "iteration": step,
        "command": " ".join(sys.argv),
        "max_detections": MAX_DETECTIONS,
        "sets": {},
    }
    for name in args.sets.split(","):
        samples = [r[2] for r in set_samples(args.data, name) if r[3] == "val"]
        report["sets"][name] = set_ceiling(model, backbone, samples, config["image_size"])
        print(name, json.dumps(report["sets"][name]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
