"""AlignDet box-domain pretraining of the detector on cached features and cached proposals, without labels
(see webdetr_tools/aligndet/README.md). Needs tools/cache_features.py and tools/proposals.py first.

  nohup setsid nice -n 10 /usr/bin/python3 tools/train_aligndet.py --config tools/configs/aligndet.json \
      > .cache/logs/aligndet.log 2>&1 &        # rerun the same command to resume
Log lines also go to <run_dir>/train.log; <run_dir>/model_final.pt is what a fine-tuning config's
"init_from" names (tools/configs/detector_ft_aligndet.json).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="AlignDet pretraining on cached features + proposals")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--proposals", type=Path, help="default: the config's data.proposals_dir (relative to the repo)")
    parser.add_argument("--run-dir", type=Path, help="default: the config's train.run_dir (relative to the repo)")
    parser.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="continue from run_dir/checkpoint.pt if present (default)")
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (speed checks)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's train.threads)")
    args = parser.parse_args(argv)
    import torch

    from webdetr_tools.aligndet.loop import pretrain

    config = json.loads(args.config.read_text())
    torch.set_num_threads(args.threads or config["train"].get("threads", 1))
    run_dir = args.run_dir or REPO / config["train"]["run_dir"]
    proposals = args.proposals or REPO / config["data"]["proposals_dir"]
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(run_dir / "train.log", "a")

    def log(message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"config {args.config}: {json.dumps(config)}")
    pretrain(config, args.cache, proposals, run_dir, args.resume, args.max_steps, log)


if __name__ == "__main__":
    main()
