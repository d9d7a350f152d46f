"""Detector v2 training loop on the view cache (data.py): seeded, resumable, progress + ETA lines.

Determinism: epoch e visits the training images in permutation RandomState(seed + e); each image's view is
drawn from the same generator (view 0, the identity, with augment.view_probability_identity, else one of
views 1..K-1), so a resumed run sees the batches the uninterrupted run would have. <run_dir>/checkpoint.pt
(atomic, every train.checkpoint_every_steps and at the end) holds model, optimizer, step, torch RNG and
the config; a checkpoint of another config is refused. Every train.eval_every_steps (and at the end) the
held-out metrics go to <run_dir>/metrics.jsonl and the weights to <run_dir>/model_step<N>.pt.

API
  train_items(cache, config, split='train') -> [(set, image_id)]
  epoch_plan(n_items, seed, epoch, views, p_identity) -> (order, view per item)
  evaluate(model, cache, targets, config) -> {metric: value}
  train(config, cache, targets, run_dir, resume=True, max_steps=None, log=print) -> model
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..evaluation.coco_ap import ImageResult, evaluate as coco_evaluate
from ..training.evaluate import postprocess
from ..training.loop import _format_time, _optimizer, _optimizer_step, _save
from .loss import total_loss
from .variants import build as build_model, forward_eval, forward_train, init_shared


def train_items(cache, config: dict, split: str = "train") -> list[tuple[str, str]]:
    return [(name, img["id"]) for name in config["data"]["sets"] for img in cache.images(name, split)]


def epoch_plan(n_items: int, seed: int, epoch: int, views: int, p_identity: float):
    rng = np.random.RandomState(seed + epoch)
    order = rng.permutation(n_items)
    identity = rng.random_sample(n_items) < p_identity
    other = rng.randint(1, max(views, 2), size=n_items) if views > 1 else np.zeros(n_items, int)
    return order, np.where(identity, 0, other)


@torch.no_grad()
def predict(model, cache, items, batch_size: int = 8) -> dict:
    was_training = model.training
    model.eval()
    out = {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        logits, boxes = forward_eval(model, cache.features([(s, i, 0) for s, i in chunk]))
        sizes = [(cache.image(s, i)["width"], cache.image(s, i)["height"]) for s, i in chunk]
        for key, result in zip(chunk, postprocess(logits, boxes, sizes)):
            out[key] = result
    model.train(was_training)
    return out


def _ap(pairs) -> dict:
    m = coco_evaluate([ImageResult(gb, gl, b, s, lab) for (gb, gl), (b, s, lab) in pairs])
    return {"AP": m["AP"], "AP50": m["AP50"]}


def evaluate(model, cache, targets, config: dict) -> dict:
    """coco128 val: ground truth, all config classes present in val; pennfudan val: persons."""
    metrics = {}
    for name in config["data"].get("val_sets", ["coco128", "pennfudan"]):
        items = [(name, img["id"]) for img in cache.images(name, "val")]
        if not items:
            continue
        pred = predict(model, cache, items)
        pairs = [(targets.ground_truth(*key), pred[key]) for key in items]
        if name == "pennfudan":
            person = targets.classes.index("person")
            pairs = [(gt, tuple(a[p[2] == person] for a in p)) for gt, p in pairs]
            name = "pennfudan_person"
        metrics.update({f"{name}_{k}": v for k, v in _ap(pairs).items()})
    return metrics


def _resume(ckpt_path: Path, config: dict, model, optimizer):
    if not ckpt_path.is_file():
        return None
    state = torch.load(ckpt_path, map_location="cpu")
    if state["config"] != config:
        raise SystemExit(f"{ckpt_path} was trained with another config; use a new run_dir or --no-resume")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def _eval(model, cache, targets, config, run_dir, step, steps_per_epoch, log) -> float:
    """Held-out metrics -> metrics.jsonl, weights -> model_step<N>.pt; returns the seconds it took."""
    t0 = time.time()
    metrics = evaluate(model, cache, targets, config)
    line = dict(step=step, epoch=round(step / steps_per_epoch, 2), **{k: round(v, 4) for k, v in metrics.items()})
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
    torch.save(dict(model=model.state_dict(), config=config, step=step), run_dir / f"model_step{step}.pt")
    log(f"eval ({time.time() - t0:.0f} s): {json.dumps(line)}")
    return time.time() - t0


def train(config: dict, cache, targets, run_dir: Path, resume: bool = True, max_steps: int | None = None, log=print):
    model = build_model(config).train()
    optim, tc, aug = config["optim"], config["train"], config["augment"]
    optimizer = _optimizer(model, optim)
    items = train_items(cache, config)
    batch = optim["batch_size"]
    steps_per_epoch = math.ceil(len(items) / batch)
    total_steps = steps_per_epoch * optim["epochs"]
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    step = _resume(ckpt_path, config, model, optimizer) if resume else None
    if step is not None:
        log(f"resumed from {ckpt_path} at step {step}/{total_steps}")
    else:
        step = 0
        init_shared(model, config, log)
        log(
            f"{len(items)} training images x {aug['views']} views, {steps_per_epoch} steps/epoch, {total_steps} steps, "
            f"{sum(p.numel() for p in model.parameters())} parameters"
        )
    end = min(total_steps, step + max_steps) if max_steps is not None else total_steps
    if step == 0 and tc.get("eval_at_start"):
        _eval(model, cache, targets, config, run_dir, 0, steps_per_epoch, log)
    started, started_step, running, eval_seconds = time.time(), step, {}, 0.0
    while step < end:
        epoch, within = divmod(step, steps_per_epoch)
        order, views = epoch_plan(len(items), config["seed"], epoch, aug["views"], aug["view_probability_identity"])
        chosen = order[within * batch : (within + 1) * batch]
        chunk = [(*items[i], int(views[i])) for i in chosen]
        layers, enc = forward_train(model, cache.features(chunk))
        loss, parts = total_loss(layers, enc, [targets.target(*c) for c in chunk], config["loss"])
        _optimizer_step(model, optimizer, loss, optim, epoch)
        step += 1
        for k, v in parts.items():
            running[k] = 0.9 * running.get(k, v) + 0.1 * v
        if step % tc["log_every_steps"] == 0 or step == end:
            rate = (time.time() - started - eval_seconds) / (step - started_step)
            log(
                f"step {step}/{total_steps} epoch {step / steps_per_epoch:.2f} "
                + " ".join(f"{k} {v:.4f}" for k, v in sorted(running.items()))
                + f" lr {optimizer.param_groups[0]['lr']:.1e} {rate:.2f} s/step"
                + f" ETA {_format_time(rate * (total_steps - step))}"
            )
        if step % tc["checkpoint_every_steps"] == 0 or step == end:
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
        if step % tc["eval_every_steps"] == 0 or step == total_steps:
            eval_seconds += _eval(model, cache, targets, config, run_dir, step, steps_per_epoch, log)
    if step == total_steps:
        torch.save(dict(model=model.state_dict(), config=config, step=step), run_dir / "model_final.pt")
    return model
