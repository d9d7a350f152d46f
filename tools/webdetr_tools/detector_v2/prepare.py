"""Build the frozen part of detector v2 training: splits, teacher pseudo-labels, cached neck features of
each image's seeded views (data.py). Resumable per set; reruns skip finished sets.

  cd tools && nice -n 10 /usr/bin/python3 -m webdetr_tools.detector_v2.prepare --config configs/detector_v2.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .config import REPO, load_config, repo_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--splits-out",
        type=Path,
        default=REPO / "tools" / "results" / "detector_v2_splits.json",
        help="where the held-out lists (val, gallery) are recorded",
    )
    args = parser.parse_args(argv)
    import torch

    from .data import prepare, split_summary

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    model_json = repo_path(config, "model_json")
    if not model_json.is_file():
        raise SystemExit(f"{model_json} missing: run /usr/bin/python3 tools/fetch_backbone.py first")
    args.splits_out.write_text(json.dumps(split_summary(config, args.data), indent=1) + "\n")
    start = time.time()
    prepare(
        config,
        args.data,
        repo_path(config, "cache_dir"),
        model_json,
        log=lambda m: print(f"[{time.time() - start:7.1f}s] {m}", flush=True),
    )
    print("done", flush=True)


if __name__ == "__main__":
    main()
