"""The training CLIs' shared run set-up (webdetr_tools/training/run_cli.py): arguments, run folder, threads,
and a log that prints and appends to <run>/train.log (a resumed run adds to the same file)."""
import argparse
import json

import torch

from webdetr_tools.training.run_cli import add_run_arguments, start_run


def test_start_run_makes_the_run_folder_sets_threads_and_logs_to_train_log(tmp_path, capsys):
    config = {"train": {"run_dir": "runs/x", "threads": 1}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, tmp_path)
    args = parser.parse_args(["--config", str(tmp_path / "c.json"), "--threads", "2", "--max-steps", "3"])
    assert (args.resume, args.max_steps, args.cache) == (True, 3, tmp_path / ".cache" / "features")
    assert parser.parse_args(["--config", "c", "--no-resume"]).resume is False
    before = torch.get_num_threads()
    try:
        got, run_dir, log = start_run(args, tmp_path)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert got == config and run_dir == tmp_path / "runs" / "x" and run_dir.is_dir()
    log("step 1")
    start_run(args, tmp_path)[2]("resumed")  # a second start appends
    lines = (run_dir / "train.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        f"config {args.config}: {json.dumps(config)}",
        "step 1",
        f"config {args.config}: {json.dumps(config)}",
        "resumed",
    ]
    assert "step 1" in capsys.readouterr().out
