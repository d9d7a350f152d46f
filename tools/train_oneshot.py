"""Pretrain the one-shot model (webdetr_tools/oneshot/model.py) by random query patch detection on cached
backbone features (webdetr_tools/oneshot/pretext.py). Resumable, seeded, 1 thread by default.

  /usr/bin/python3 tools/train_oneshot.py --config tools/configs/oneshot.json --run runs/oneshot [--resume]

Writes <run>/last.pt (model, optimizer, iteration, configs; atomically replaced every
checkpoint_every_s and at the end), <run>/config.json and appends progress lines with s/it and ETA to
<run>/train.log (and stdout). --resume continues from <run>/last.pt; batches are a function of
(seed, iteration), so a resumed run sees the same data as an uninterrupted one.

Fine-tuning (tools/configs/oneshot_finetune.json): train.init names a checkpoint (repo-relative) whose
weights start the run (same model config, except keys that change no weight, e.g. patch_descriptor:
oneshot_roi.json starts RoI descriptors from the crop-trained release), and train.instances = "labels" takes the
instance patches from the labeled sets' 'train' split ground truth instead of the teacher's pseudo-labels.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch


from webdetr_tools.oneshot.losses import set_loss
from webdetr_tools.oneshot.init_checkpoint import init_config_changes, load_init_state
from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR
from webdetr_tools.oneshot.pretext import PretextBatches, load_ground_truth, load_pseudo_labels
from webdetr_tools.training.features import FeatureCache

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


def save(path: Path, state: dict):
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=TOOLS / "configs" / "oneshot.json")
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "oneshot")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--pseudo-labels", type=Path, default=REPO / ".cache" / "pseudo_labels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, help="override train.iterations (e.g. a speed probe)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = json.loads(args.config.read_text())
    mcfg, tcfg = OneShotConfig.from_dict(config["model"]), dict(config["train"])
    if args.iterations:
        tcfg["iterations"] = args.iterations
    args.run.mkdir(parents=True, exist_ok=True)
    log_file = open(args.run / "train.log", "a")

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    torch.manual_seed(tcfg["seed"])
    model = OneShotDETR(mcfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tcfg["lr"], weight_decay=tcfg["weight_decay"])
    start_it = 0
    ckpt = args.run / "last.pt"
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu")
        if state["model_config"] != mcfg.to_dict():
            raise SystemExit(f"{ckpt} was trained with another model config; use a new --run")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_it = state["iteration"]
        log(f"resumed from {ckpt} at iteration {start_it}")
    elif tcfg.get("init"):
        init = REPO / tcfg["init"]
        state = torch.load(init, map_location="cpu")
        changed = init_config_changes(state["model_config"], mcfg)
        load_init_state(model, state["model"], changed)
        log(
            f"initialised from {init} (iteration {state['iteration']} of its run)"
            + "".join(f"; {k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        )
    (args.run / "config.json").write_text(json.dumps({"model": mcfg.to_dict(), "train": tcfg}, indent=1))

    from webdetr_tools.backbones.fetch import fetch
    from webdetr_tools.backbones.centernet_mobilenetv3 import CenterNetMobileNetV3

    backbone = CenterNetMobileNetV3(fetch()).eval()
    cache = FeatureCache(args.cache, mcfg.image_size)
    fraction = tcfg.get("pseudo_fraction", 0.0)
    instances = tcfg.get("instances", "teacher")
    if fraction + tcfg.get("cross_fraction", 0.0) <= 0:
        pseudo = None
    elif instances == "labels":
        pseudo = load_ground_truth(args.data, tcfg["sets"])
    elif instances == "teacher":
        pseudo = load_pseudo_labels(args.pseudo_labels, tcfg["sets"], tcfg.get("pseudo_min_score", 0.25))
    else:
        raise SystemExit(f"train.instances must be 'teacher' or 'labels', not {instances!r}")
    if pseudo is not None:
        log(f"instance boxes ({instances}): " + ", ".join(f"{k} {len(v)} images" for k, v in pseudo.items()))
    batches = PretextBatches(
        cache,
        args.data,
        tcfg["sets"],
        backbone,
        tcfg["batch_images"],
        tcfg["patches_per_image"],
        mcfg.patch_size,
        tcfg["seed"],
        tcfg["min_side"],
        tcfg["max_side"],
        pseudo,
        fraction,
        mcfg.queries_per_patch,
        tcfg.get("cross_fraction", 0.0),
        mcfg.patch_descriptor,
        mcfg.roi_samples,
        tcfg.get("roi_jitter", 0.0),
        tcfg.get("set_weights"),
    )
    total = tcfg["iterations"]
    drop_at = int(total * tcfg["lr_drop_fraction"])
    log(
        f"{len(batches.images)} training images from {tcfg['sets']}; {sum(p.numel() for p in model.parameters())} "
        f"parameters; iterations {start_it}..{total}"
    )

    def state(it):
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "iteration": it,
            "model_config": mcfg.to_dict(),
            "train_config": tcfg,
        }

    model.train()
    t0, last_ckpt, run_loss = time.time(), time.time(), {}
    for it in range(start_it, total):
        lr = tcfg["lr"] * (0.1 if it >= drop_at else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if mcfg.patch_scale_input or mcfg.box_size_prior:
            levels, desc, patch_boxes, targets = batches.batch_with_boxes(it)
            outputs = model(levels, desc, patch_boxes)
        else:
            levels, desc, targets = batches.batch(it)
            outputs = model(levels, desc)
        loss, parts = set_loss(outputs, targets, mcfg.queries_per_patch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg["clip_max_norm"])
        optimizer.step()
        for k, v in dict(parts, total=float(loss)).items():
            run_loss[k] = run_loss.get(k, 0.0) + v
        done = it + 1
        if done % tcfg["log_every"] == 0 or done == total:
            n = tcfg["log_every"] if done % tcfg["log_every"] == 0 else done % tcfg["log_every"]
            per_it = (time.time() - t0) / (done - start_it)
            eta = per_it * (total - done)
            log(
                f"it {done}/{total} lr {lr:.1e} "
                + " ".join(f"{k} {v / n:.4f}" for k, v in run_loss.items())
                + f" | {per_it:.2f} s/it, ETA {eta / 3600:.2f} h"
            )
            run_loss = {}
        if time.time() - last_ckpt > tcfg["checkpoint_every_s"] or done == total:
            save(ckpt, state(done))
            last_ckpt = time.time()
    log(f"done: {ckpt}")


if __name__ == "__main__":
    main()
