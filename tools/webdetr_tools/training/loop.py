"""Training loop for the detector on cached features: seeded, resumable, progress + ETA lines.

Determinism: epoch e visits the training items in permutation RandomState(seed + e) with flips drawn
from the same generator, so a resumed run sees exactly the batches the uninterrupted run would have.
The checkpoint (<run_dir>/checkpoint.pt, written atomically every checkpoint_every_steps and at the
end) holds model, optimizer, step and torch RNG state. Learning rate: AdamW, lr x lr_linear_proj_mult
for reference_points / sampling_offsets (official), x0.1 from lr_drop_epoch on; gradient clipping.
Every eval_every_epochs the held-out metrics (evaluate.py) are logged as a JSON line to metrics.jsonl.
init_from (a checkpoint path, e.g. AlignDet pretraining's model_final.pt): a fresh run starts from its
weights except the class head (pretrained.py); a resumed run ignores it (the checkpoint has everything).

API: train(config, data_root, cache_root, labels_dir, resume=True, max_steps=None, log=print,
           init_from=None) -> model
     (config: the dict of tools/configs/detector.json; max_steps stops early, for tests / speed checks)
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .detector import build_detector, forward_layers
from .evaluate import evaluate_detector
from .features import FeatureCache
from .losses import set_loss
from .pretrained import load_pretrained
from .targets import LabelSource, items as list_items

LINEAR_PROJ_NAMES = ("reference_points", "sampling_offsets")


def _optimizer(model, optim: dict):
    """AdamW groups: the rest at lr, reference_points / sampling_offsets at lr x lr_linear_proj_mult, and with
    lr_class_head_mult (detector v3g) the class heads at lr x that (a third group only then, so older runs resume)."""
    proj = [p for n, p in model.named_parameters() if any(k in n for k in LINEAR_PROJ_NAMES)]
    head_mult = float(optim.get("lr_class_head_mult", 1.0))
    heads = [p for n, p in model.named_parameters() if "class_embed" in n] if head_mult != 1.0 else []
    grouped = {id(p) for p in proj + heads}
    rest = [p for p in model.parameters() if id(p) not in grouped]
    groups = [(rest, optim["lr"]), (proj, optim["lr"] * optim["lr_linear_proj_mult"])]
    if heads:
        groups.append((heads, optim["lr"] * head_mult))
    return torch.optim.AdamW(
        [{"params": params, "lr": lr, "base_lr": lr} for params, lr in groups],
        lr=optim["lr"],
        weight_decay=optim["weight_decay"],
    )


def _epoch_order(n_items: int, seed: int, epoch: int, flip_probability: float):
    rng = np.random.RandomState(seed + epoch)
    return rng.permutation(n_items), rng.random_sample(n_items) < flip_probability


def _format_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _optimizer_step(model, optimizer, loss, optim: dict, epoch: int) -> None:
    """One update: lr x0.1 from optim's lr_drop_epoch on, gradients clipped to clip_max_norm (0: no clipping)."""
    decay = 0.1 if epoch >= optim["lr_drop_epoch"] else 1.0
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * decay
    optimizer.zero_grad()
    loss.backward()
    if optim["clip_max_norm"] > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), optim["clip_max_norm"])
    optimizer.step()


def _progress_line(step: int, total_steps: int, steps_per_epoch: int, running: dict, optimizer, rate: float) -> str:
    """The progress line: step, epoch, the running losses, lr, seconds per step and the ETA."""
    return (
        f"step {step}/{total_steps} epoch {step / steps_per_epoch:.2f} "
        + " ".join(f"{k} {v:.4f}" for k, v in sorted(running.items()))
        + f" lr {optimizer.param_groups[0]['lr']:.1e} {rate:.2f} s/step ETA {_format_time(rate * (total_steps - step))}"
    )


def _update_running(running: dict, parts: dict) -> None:
    """Exponential moving averages (0.9) of the logged loss parts, for the progress line."""
    for k, v in parts.items():
        running[k] = 0.9 * running.get(k, v) + 0.1 * v


def _save_checkpoint(ckpt_path: Path, model, optimizer, step: int, config: dict) -> None:
    """What _resume reads: model, optimizer, step, torch RNG state and the config."""
    _save(
        ckpt_path,
        dict(
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            step=step,
            torch_rng=torch.get_rng_state(),
            config=config,
        ),
    )


def _open_run(run_dir, config: dict, model, optimizer, n_items: int, resume: bool):
    """The run's schedule and state: (checkpoint path, steps per epoch, total steps, the step to start from,
    or None for a fresh run). Creates run_dir; resumes from its checkpoint.pt when asked and there is one."""
    optim = config["optim"]
    steps_per_epoch = math.ceil(n_items / optim["batch_size"])
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    step = _resume(ckpt_path, config, model, optimizer) if resume else None
    return ckpt_path, steps_per_epoch, steps_per_epoch * optim["epochs"], step


def _resume(ckpt_path: Path, config: dict, model, optimizer) -> int | None:
    """Loads a run's checkpoint.pt (model, optimizer, torch RNG) into model and optimizer; returns its step,
    or None when there is none. A checkpoint of another config is refused."""
    if not ckpt_path.is_file():
        return None
    state = torch.load(ckpt_path, map_location="cpu")
    if state["config"] != config:
        raise SystemExit(f"{ckpt_path} was trained with another config; use a new run_dir or --no-resume")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return state["step"]


def train(
    config: dict,
    data_root: Path,
    cache_root: Path,
    labels_dir: Path,
    run_dir: Path,
    resume: bool = True,
    max_steps: int | None = None,
    log=print,
    cache: FeatureCache | None = None,
    labels=None,
    init_from: Path | None = None,
):
    torch.manual_seed(config["seed"])
    cache = cache or FeatureCache(cache_root, config["feature_size"])
    labels = labels or LabelSource(data_root, labels_dir, config)
    data, optim = config["data"], config["optim"]
    train_items = list_items(cache, data["sets"], "train", data.get("max_images_per_set"), config["seed"])
    first = cache.index(train_items[0].set)
    model = build_detector(config["model"], len(config["classes"]), first["channels"], config["seed"]).train()
    optimizer = _optimizer(model, optim)
    batch = optim["batch_size"]
    run_dir = Path(run_dir)
    ckpt_path, steps_per_epoch, total_steps, step = _open_run(
        run_dir, config, model, optimizer, len(train_items), resume
    )
    if step is not None:
        log(f"resumed from {ckpt_path} at step {step}/{total_steps}")
    else:
        step = 0
        if init_from is not None:
            report = load_pretrained(model, Path(init_from))
            log(
                f"init_from {report['path']} (step {report['step']}): loaded {len(report['loaded'])} tensors, "
                f"{report['parameters_loaded']} parameters; kept the fresh initialisation of {report['kept']}"
            )
        log(
            f"{len(train_items)} training images, {steps_per_epoch} steps/epoch, {total_steps} steps, "
            f"{sum(p.numel() for p in model.parameters())} parameters"
        )
    end = min(total_steps, step + max_steps) if max_steps else total_steps
    train_cfg = config["train"]
    started, started_step, running, eval_seconds = time.time(), step, {}, 0.0
    while step < end:
        epoch, within = divmod(step, steps_per_epoch)
        order, flips = _epoch_order(len(train_items), config["seed"], epoch, data["flip_probability"])
        chosen = order[within * batch : (within + 1) * batch]
        chunk = [(train_items[i], bool(flips[i])) for i in chosen]
        features = cache.batch([(it.set, it.image_id, f) for it, f in chunk])
        targets = [labels.target(it, f) for it, f in chunk]
        loss, parts = set_loss(forward_layers(model, features), targets, config["loss"])
        _optimizer_step(model, optimizer, loss, optim, epoch)
        step += 1
        _update_running(running, parts)
        if step % train_cfg["log_every_steps"] == 0 or step == end:
            rate = (time.time() - started - eval_seconds) / (step - started_step)
            log(_progress_line(step, total_steps, steps_per_epoch, running, optimizer, rate))
        if step % train_cfg["checkpoint_every_steps"] == 0 or step == end:
            _save_checkpoint(ckpt_path, model, optimizer, step, config)
        eval_every = train_cfg.get("eval_every_epochs", 0)
        if eval_every and step % (eval_every * steps_per_epoch) == 0 or step == total_steps:
            t0 = time.time()
            metrics = evaluate_detector(model, cache, labels, data["sets"])
            line = dict(
                step=step, epoch=round(step / steps_per_epoch, 2), **{k: round(v, 4) for k, v in metrics.items()}
            )
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(line) + "\n")
            eval_seconds += time.time() - t0
            log(f"eval ({time.time() - t0:.0f} s): {json.dumps(line)}")
    if step == total_steps:
        torch.save(dict(model=model.state_dict(), config=config, step=step), run_dir / "model_final.pt")
    return model
