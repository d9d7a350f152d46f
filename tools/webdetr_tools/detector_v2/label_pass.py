"""The command line and output writing shared by the per-set label passes that run once before training
(second_teacher.py: SSDLite's rows; crop_labels.py: the classifier check of them). Each pass writes one JSON file
per set into the view cache, atomically, and skips sets already written when rerun.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .config import REPO, load_config, repo_path


def write_json(path: Path, value) -> None:
    """Written under a temporary name and renamed: a pass killed midway leaves no file that looks done."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    tmp.rename(path)


def main(argv, description: str, section: str, label_sets) -> None:
    """Parse --config / --data / --threads, check that the config has data[section], run
    label_sets(config, cache_root, data_root, log)."""
    import torch

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    if section not in config["data"]:
        raise SystemExit(f"{args.config}: no data.{section}")
    start = time.time()
    label_sets(
        config,
        repo_path(config, "cache_dir"),
        args.data,
        lambda m: print(f"[{time.time() - start:7.1f}s] {m}", flush=True),
    )
    print("done", flush=True)
