"""AlignDet box-domain pretraining of the detector on cached features and cached proposals, without labels
(see webdetr_tools/aligndet/README.md). Needs tools/cache_features.py and tools/experiments/proposals.py first.

  PYTHONPATH=tools nohup setsid nice -n 10 /usr/bin/python3 tools/experiments/train_aligndet.py \
      --config tools/experiments/configs/aligndet.json \
      > .cache/logs/aligndet.log 2>&1 &        # rerun the same command to resume
Log lines also go to <run_dir>/train.log; <run_dir>/model_final.pt is what a fine-tuning config's
"init_from" names (tools/experiments/configs/detector_ft_aligndet.json).
"""
from __future__ import annotations

import argparse
from pathlib import Path


from webdetr_tools.training.run_cli import add_run_arguments, start_run

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="AlignDet pretraining on cached features + proposals")
    add_run_arguments(parser, REPO)
    parser.add_argument(
        "--proposals", type=Path, help="default: the config's data.proposals_dir (relative to the repo)"
    )
    args = parser.parse_args(argv)
    from webdetr_tools.aligndet.loop import pretrain

    config, run_dir, log = start_run(args, REPO)
    proposals = args.proposals or REPO / config["data"]["proposals_dir"]
    pretrain(config, args.cache, proposals, run_dir, args.resume, args.max_steps, log)


if __name__ == "__main__":
    main()
