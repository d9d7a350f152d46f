"""The AlignDet comparison, end to end: proposals -> pretraining -> the same fine-tuning budget from scratch
and from the pretrained weights -> held-out AP / AP50 of both -> tools/experiments/results/aligndet_comparison.json.

  PYTHONPATH=tools nohup setsid nice -n 10 /usr/bin/python3 tools/experiments/aligndet_compare.py \
      > .cache/logs/aligndet_compare.log 2>&1 &
  PYTHONPATH=tools /usr/bin/python3 tools/experiments/aligndet_compare.py --dry-run      # print the commands only

Every stage resumes (rerun the same command after an interruption): proposals skip complete sets, the
trainings continue from their checkpoint.pt, and a stage whose model_final.pt exists is not rerun.
The commands it runs, in order (all niced, one torch thread):
  tools/experiments/proposals.py
  tools/experiments/train_aligndet.py --config tools/experiments/configs/aligndet.json
  tools/train.py --config tools/experiments/configs/detector_ft_scratch.json
  tools/train.py --config tools/experiments/configs/detector_ft_aligndet.json
      (init_from the pretraining's model_final.pt)
  tools/evaluate.py --checkpoint .cache/runs/detector_ft_{scratch,aligndet}/model_final.pt
--skip-pretraining runs only the scratch fine-tune (e.g. in parallel, on a second core).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent
TOOLS = EXPERIMENTS.parent
REPO = TOOLS.parent
ENV = {**os.environ, "PYTHONPATH": str(TOOLS)}  # the experiments' scripts import webdetr_tools
PY = ["nice", "-n", "10", "/usr/bin/python3"]


def _run_dir(config_path: Path) -> Path:
    return REPO / json.loads(config_path.read_text())["train"]["run_dir"]


def _stage(name: str, command: list[str], done: Path | None, dry_run: bool) -> float:
    print(f"== {name}: {' '.join(command)}", flush=True)
    if dry_run:
        return 0.0
    if done is not None and done.is_file():
        print(f"   done already ({done})", flush=True)
        return 0.0
    started = time.time()
    subprocess.run(command, cwd=REPO, env=ENV, check=True)
    return round(time.time() - started, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description="AlignDet pretraining vs scratch, same fine-tuning budget")
    parser.add_argument("--pretrain-config", type=Path, default=EXPERIMENTS / "configs" / "aligndet.json")
    parser.add_argument("--scratch-config", type=Path, default=EXPERIMENTS / "configs" / "detector_ft_scratch.json")
    parser.add_argument("--aligndet-config", type=Path, default=EXPERIMENTS / "configs" / "detector_ft_aligndet.json")
    parser.add_argument("--out", type=Path, default=EXPERIMENTS / "results" / "aligndet_comparison.json")
    parser.add_argument("--skip-pretraining", action="store_true", help="only the scratch fine-tune + its eval")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    scratch, aligned = json.loads(args.scratch_config.read_text()), json.loads(args.aligndet_config.read_text())
    budget = {k: v for k, v in scratch.items() if k not in ("name", "train", "init_from")}
    if budget != {k: v for k, v in aligned.items() if k not in ("name", "train", "init_from")}:
        raise SystemExit("the two fine-tuning configs differ in more than name / run_dir / init_from")
    seconds = {}
    runs = [("finetune_scratch", args.scratch_config)]
    if not args.skip_pretraining:
        pre_dir = _run_dir(args.pretrain_config)
        seconds["proposals"] = _stage("proposals", PY + ["tools/experiments/proposals.py"], None, args.dry_run)
        seconds["pretrain"] = _stage(
            "pretrain",
            PY + ["tools/experiments/train_aligndet.py", "--config", str(args.pretrain_config)],
            pre_dir / "model_final.pt",
            args.dry_run,
        )
        expected = (REPO / aligned["init_from"]).resolve()
        if expected != (pre_dir / "model_final.pt").resolve():
            print(f"note: {args.aligndet_config} starts from {expected}, not this pretraining's output", flush=True)
        runs.append(("finetune_aligndet", args.aligndet_config))
    results = {}
    for name, config_path in runs:
        run_dir = _run_dir(config_path)
        seconds[name] = _stage(
            name, PY + ["tools/train.py", "--config", str(config_path)], run_dir / "model_final.pt", args.dry_run
        )
        command = PY + ["tools/evaluate.py", "--checkpoint", str(run_dir / "model_final.pt")]
        print(f"== eval {name}: {' '.join(command)}", flush=True)
        if not args.dry_run:
            out = subprocess.run(command, cwd=REPO, env=ENV, check=True, capture_output=True, text=True).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
            print(f"   {json.dumps(results[name])}", flush=True)
    if args.dry_run:
        return
    payload = dict(
        what="held-out AP/AP50 after the same fine-tuning budget, from scratch vs from AlignDet "
        "pretraining (tools/webdetr_tools/aligndet/README.md)",
        configs=dict(
            pretrain=None if args.skip_pretraining else json.loads(args.pretrain_config.read_text()),
            finetune_scratch=scratch,
            finetune_aligndet=aligned,
        ),
        wall_seconds=seconds,
        results=results,
    )
    if "finetune_aligndet" in results:
        a, s = results["finetune_aligndet"], results["finetune_scratch"]
        payload["difference_aligndet_minus_scratch"] = {
            k: round(a[k] - s[k], 4) for k in a if k.endswith(("_AP", "_AP50")) and k in s
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
