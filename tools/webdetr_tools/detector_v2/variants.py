"""Which detector v2 model a config trains: v2 (model.py, default) or v2b (model_b.py, config "variant": "v2b",
the teacher's detections as two-stage proposals). The loop and evaluate_run call these.

API: build(config) -> model; forward_train(model, levels) -> (layers, enc or None);
     forward_eval(model, levels, proposals=None) -> (logits, boxes);
     init_shared(model, config, log) (v2b: train.init_from)
"""
from __future__ import annotations

from pathlib import Path

import torch

from . import model as v2
from .config import repo_path


def _b():
    from . import model_b

    return model_b


def is_b(model) -> bool:
    return type(model).__name__ == "DeformableDETRB"


def build(config: dict):
    return _b().build_model_b(config) if config.get("variant") == "v2b" else v2.build_model(config)


def forward_train(model, levels):
    return (_b() if is_b(model) else v2).forward_train(model, levels)


def forward_eval(model, levels, proposals=None):
    """proposals (v2b only): Proposals instead of those decoded from levels[0]."""
    if proposals is not None:
        return _b().forward_eval(model, levels, proposals)
    return (_b() if is_b(model) else v2).forward_eval(model, levels)


def init_shared(model, config: dict, log=print) -> None:
    """A fresh v2b run starts its shared parts (encoder, decoder layers, input_proj, level_embed, pos_trans)
    from train.init_from (a v2 checkpoint), if the config names one; the heads stay zero."""
    source = config["train"].get("init_from")
    if not is_b(model) or not source:
        return
    path = repo_path(config, "init_from")
    if not Path(path).is_file():
        raise SystemExit(f"train.init_from {path} missing")
    state = torch.load(path, map_location="cpu")
    loaded, skipped = _b().load_shared(model, state["model"])
    log(f"init from {path} (step {state.get('step')}): {len(loaded)} tensors loaded, {len(skipped)} skipped (heads)")
