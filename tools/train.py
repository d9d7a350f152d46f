"""Train a model from a config file on cached backbone features (resumable; see
webdetr_tools/training/loop.py). Needs tools/cache_features.py and tools/pseudo_label.py first.

  nohup setsid nice -n 10 /usr/bin/python3 tools/train.py --config tools/configs/detector.json \
      > .cache/logs/detector.log 2>&1 &        # rerun the same command to resume
Log lines also go to <run_dir>/train.log; checkpoints and metrics.jsonl live in run_dir.
A config key "init_from" (path relative to the repo) starts a fresh run from a pretrained checkpoint's
weights except the class head (e.g. AlignDet: tools/experiments/configs/detector_ft_aligndet.json).
"""
from __future__ import annotations

import argparse
from pathlib import Path


from webdetr_tools.training.run_cli import add_run_arguments, start_run

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="train on cached features")
    add_run_arguments(parser, REPO)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--labels", type=Path, default=REPO / ".cache" / "pseudo_labels")
    args = parser.parse_args(argv)
    from webdetr_tools.training.loop import train

    config, run_dir, log = start_run(args, REPO)
    init_from = REPO / config["init_from"] if config.get("init_from") else None
    train(config, args.data, args.cache, args.labels, run_dir, args.resume, args.max_steps, log, init_from=init_from)


if __name__ == "__main__":
    main()
