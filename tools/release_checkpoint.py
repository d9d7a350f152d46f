#!/usr/bin/env python3
"""A training run's checkpoint -> the release checkpoint that `npm run build:models` exports and git keeps.

Keeps what inference needs (weights as float16, the model config, the step reached and the training
config); drops optimizer and RNG state. Float16 storage halves the file; measured cost on held-out AP is
recorded in each model card (public/models/*/MODEL_CARD.md).

    /usr/bin/python3 tools/release_checkpoint.py --kind detector --run .cache/runs/detector/checkpoint.pt
    /usr/bin/python3 tools/release_checkpoint.py --kind oneshot --run runs/oneshot/last.pt
"""
import argparse
import hashlib
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
KEEP = {"detector": ("config", "step"), "oneshot": ("model_config", "train_config", "iteration")}
OPTIONAL = ("calibration",)  # tools/calibrate_oneshot.py's record, when the run has one


def release(kind: str, run: Path, out: Path) -> dict:
    payload = torch.load(str(run), map_location="cpu")
    missing = [k for k in ("model",) + KEEP[kind] if k not in payload]
    if missing:
        raise SystemExit(f"{run}: not a {kind} training checkpoint (no {missing})")
    state = {k: v.half() if v.is_floating_point() else v for k, v in payload["model"].items()}
    released = {
        "model": state,
        **{k: payload[k] for k in KEEP[kind] + OPTIONAL if k in payload},
        "released_from": {"file": run.name, "sha256": hashlib.sha256(run.read_bytes()).hexdigest()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(released, str(out))
    return released


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=sorted(KEEP), required=True)
    parser.add_argument("--run", type=Path, required=True, help="training checkpoint (.pt)")
    parser.add_argument("--out", type=Path, help="default tools/checkpoints/<kind>.pt")
    args = parser.parse_args()
    out = args.out or REPO / "tools" / "checkpoints" / f"{args.kind}.pt"
    released = release(args.kind, args.run, out)
    step = released.get("step", released.get("iteration"))
    print(f"{out}: {args.kind} at step {step}, {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
