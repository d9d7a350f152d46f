"""What the config-driven training CLIs share (tools/train.py, tools/experiments/train_aligndet.py): the run arguments,
the torch thread count, the run folder and a log that prints each line and appends it to <run>/train.log.

API
  add_run_arguments(parser): --config, --cache, --run-dir, --resume / --no-resume, --max-steps, --threads
  start_run(args, repo) -> (config dict, run_dir Path, log(message)); the config is logged as the first line
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_run_arguments(parser: argparse.ArgumentParser, repo: Path) -> None:
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=repo / ".cache" / "features")
    parser.add_argument("--run-dir", type=Path, help="default: the config's train.run_dir (relative to the repo)")
    parser.add_argument(
        "--resume",
        dest="resume",
        action="store_true",
        default=True,
        help="continue from run_dir/checkpoint.pt if present (default)",
    )
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (speed checks)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's train.threads)")


def start_run(args: argparse.Namespace, repo: Path):
    import torch

    config = json.loads(args.config.read_text())
    torch.set_num_threads(args.threads or config["train"].get("threads", 1))
    run_dir = args.run_dir or repo / config["train"]["run_dir"]
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "train.log"

    def log(message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        print(line, flush=True)
        with open(log_path, "a") as log_file:  # appended per line: a killed run keeps what it said
            log_file.write(line + "\n")

    log(f"config {args.config}: {json.dumps(config)}")
    return config, run_dir, log
