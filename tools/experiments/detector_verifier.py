"""Detector v3v: a proposal verifier trained on the frozen shipped v3 release (webdetr_tools/detector_v2/verifier.py,
verifier_train.py; README-detector-v2.md section 10). Writes a release-format checkpoint that
experiments.gallery_pytorch and tools/eval_shipped.py --skip-browser score like any v3 release; nothing ships.

    cd tools && nice /usr/bin/python3 -m experiments.detector_verifier \\
        --config experiments/configs/detector_verifier.json [--set targets.weak_weight=1] [--set verifier.mode="veto"]

--set SECTION.KEY=JSON overrides one entry (the variants of section 10); the written checkpoint's config records
the config it was trained with. The feature cache (~13 min of CPU the first time) is shared by all variants.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from webdetr_tools.detector_v2.verifier_train import REPO, train_verifier


def overridden(config: dict, assignments: list[str]) -> dict:
    config = json.loads(json.dumps(config))
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        section, _, name = key.partition(".")
        if section not in config or not isinstance(config[section], dict) or not name or not value:
            raise SystemExit(f"--set {assignment!r}: expected SECTION.KEY=JSON with SECTION one of the config's")
        config[section][name] = json.loads(value)
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.KEY=JSON")
    parser.add_argument("--out", type=Path, help="default: the config's out")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = overridden(json.loads(args.config.read_text()), args.assignments)
    started = time.time()

    def log(m):
        print(f"[{time.time() - started:7.1f}s] {m}", flush=True)

    release = train_verifier(config, args.data, log)
    out = args.out or REPO / config["out"]
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(release, out)
    log(f"best epoch {release['config']['verifier_training']['best_epoch']}; wrote {out}")


if __name__ == "__main__":
    main()
