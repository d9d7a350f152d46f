"""AlignDet pretraining loop on cached features and cached proposals: seeded, resumable, progress + ETA.

Step s of epoch e takes batch s of permutation RandomState(seed + e) over the training images with
proposals; the views (flip, crop sizes and offsets) come from RandomState([seed, s]), so a resumed run
sees the batches the uninterrupted run would have. Loss = mean over the two views of the set loss
against the proposals (class 'object'), + contrastive_coef x box-level InfoNCE (losses.py). Optimizer,
learning-rate drop, clipping and checkpoint format as training/loop.py: <run_dir>/checkpoint.pt (whole
AlignDetModel + optimizer + step + torch RNG + config), and at the end <run_dir>/model_final.pt with
'model' = the detector's state dict only (what tools/train.py's init_from loads) and 'projector'.

API: pretrain(config, cache_root, proposals_dir, run_dir, resume=True, max_steps=None, log=print,
              cache=None, proposals=None) -> AlignDetModel   (config: tools/experiments/configs/aligndet.json)
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..training.features import FeatureCache
from ..training.loop import (
    _epoch_order,
    _open_run,
    _optimizer,
    _optimizer_step,
    _progress_line,
    _save_checkpoint,
    _update_running,
)
from ..training.losses import set_loss
from ..training.matcher import hungarian_match
from .data import ProposalSource, make_views
from .losses import info_nce, matched_pairs, view_targets
from .model import AlignDetModel, forward_view


def step_loss(model: AlignDetModel, views, loss_cfg: dict):
    """-> (total loss, {name: float}) for one batch of two views."""
    total, logged, embeddings, matches = 0.0, {}, [], []
    for view in views:
        layers, hs = forward_view(model.detector, view["features"])
        targets = view_targets(view["boxes"])
        loss, parts = set_loss(layers, targets, loss_cfg)
        logits, boxes = layers[-1]
        matches.append(
            hungarian_match(
                logits,
                boxes,
                targets,
                loss_cfg["cost_class"],
                loss_cfg["cost_bbox"],
                loss_cfg["cost_giou"],
                loss_cfg["focal_alpha"],
            )
        )
        embeddings.append(hs)
        total = total + 0.5 * loss
        for k, v in parts.items():
            logged[k] = logged.get(k, 0.0) + 0.5 * v
    pairs = matched_pairs(matches[0], views[0]["ids"], matches[1], views[1]["ids"])
    emb_a = torch.cat([embeddings[0][b, qa] for b, (qa, _) in enumerate(pairs)])
    emb_b = torch.cat([embeddings[1][b, qb] for b, (_, qb) in enumerate(pairs)])
    nce = info_nce(model.projector(emb_a), model.projector(emb_b), loss_cfg["temperature"])
    total = total + loss_cfg["contrastive_coef"] * nce
    logged.update(loss_nce=float(nce), pairs=float(len(emb_a)), loss=float(total))
    return total, logged


def pretrain(
    config: dict,
    cache_root: Path,
    proposals_dir: Path,
    run_dir: Path,
    resume: bool = True,
    max_steps: int | None = None,
    log=print,
    cache: FeatureCache | None = None,
    proposals: ProposalSource | None = None,
) -> AlignDetModel:
    torch.manual_seed(config["seed"])
    data, optim, loss_cfg = config["data"], config["optim"], config["loss"]
    cache = cache or FeatureCache(cache_root, config["feature_size"])
    proposals = proposals or ProposalSource(proposals_dir, cache, data["sets"], data["max_boxes"])
    if proposals.missing:
        log(f"warning: {proposals.missing} training images have no proposal entry (partial proposal files?)")
    train_items = proposals.items
    channels = cache.index(train_items[0].set)["channels"]
    model = AlignDetModel(config["model"], channels, loss_cfg["proj_dim"], config["seed"]).train()
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
        log(
            f"{len(train_items)} training images with proposals, {steps_per_epoch} steps/epoch, {total_steps} "
            f"steps, {sum(p.numel() for p in model.parameters())} parameters"
        )
    end = min(total_steps, step + max_steps) if max_steps else total_steps
    train_cfg = config["train"]
    started, started_step, running = time.time(), step, {}
    while step < end:
        epoch, within = divmod(step, steps_per_epoch)
        order, _ = _epoch_order(len(train_items), config["seed"], epoch, 0.0)
        chunk = [train_items[i] for i in order[within * batch : (within + 1) * batch]]
        views = make_views(cache, chunk, proposals, np.random.RandomState([config["seed"], step]), data)
        loss, parts = step_loss(model, views, loss_cfg)
        _optimizer_step(model, optimizer, loss, optim, epoch)
        step += 1
        _update_running(running, parts)
        if step % train_cfg["log_every_steps"] == 0 or step == end:
            log(
                _progress_line(
                    step,
                    total_steps,
                    steps_per_epoch,
                    running,
                    optimizer,
                    (time.time() - started) / (step - started_step),
                )
            )
        if step % train_cfg["checkpoint_every_steps"] == 0 or step == end:
            _save_checkpoint(ckpt_path, model, optimizer, step, config)
    if step == total_steps:
        torch.save(
            dict(
                model=model.detector.state_dict(),
                projector=model.projector.state_dict(),
                config=config,
                step=step,
                kind="aligndet-pretrained",
            ),
            run_dir / "model_final.pt",
        )
    return model
