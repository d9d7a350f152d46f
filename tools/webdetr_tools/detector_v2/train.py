"""Train detector v2 (resumable: rerun the same command). Needs detector_v2.prepare first.

  cd tools && nohup setsid nice -n 10 /usr/bin/python3 -m webdetr_tools.detector_v2.train \
      --config configs/detector_v2.json >> ../.cache/logs/detector_v2.log 2>&1 &
Log lines also go to <run_dir>/train.log; checkpoint.pt, metrics.jsonl and model_step<N>.pt live in run_dir.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .config import REPO, load_config, repo_path


def main(argv=None):
    parser = argparse.ArgumentParser(description="train detector v2 on the view cache")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--run-dir", type=Path, help="default: the config's train.run_dir")
    parser.add_argument("--no-resume", dest="resume", action="store_false", default=True)
    parser.add_argument(
        "--max-steps", type=int, help="stop after this many steps (speed checks; 0: only the step-0 evaluation)"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's train.threads)")
    args = parser.parse_args(argv)
    import torch

    from .data import Targets
    from .loop import train
    from .variants import view_cache

    config = load_config(args.config)
    torch.set_num_threads(args.threads or config["train"]["threads"])
    run_dir = args.run_dir or repo_path(config, "run_dir")
    run_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        print(line, flush=True)
        with open(run_dir / "train.log", "a") as f:
            f.write(line + "\n")

    log(f"config {args.config}: {json.dumps(config)}")
    cache = view_cache(config, args.data)
    train(config, cache, Targets(config, args.data, cache), run_dir, args.resume, args.max_steps, log)


if __name__ == "__main__":
    main()
