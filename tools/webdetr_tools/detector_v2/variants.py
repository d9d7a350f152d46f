"""Which detector v2 model a config trains: v2 (model.py, default), v2b (model_b.py, config "variant": "v2b",
the CenterNet teacher's detections as two-stage proposals) or v3 (model_v3.py, "variant": "v3", SSDLite's taps and
detections in CenterNet's place). The loop, train and evaluate_run call these.

API: build(config) -> model; forward_train(model, inputs) -> (layers, enc or None);
     forward_eval(model, inputs, proposals=None) -> (logits, boxes);
     init_shared(model, config, log) (v2b, v3: train.init_from);
     view_cache(config, data_root) -> the ViewCache the config trains on (v3: SsdViewCache, SSDLite on the fly)
"""
from __future__ import annotations

from pathlib import Path

import torch

from . import model as v2
from .config import repo_path


def _b():
    from . import model_b

    return model_b


def _v3():
    from . import model_v3

    return model_v3


def is_b(model) -> bool:
    """v2b or v3: models whose proposals are a teacher's detections."""
    return type(model).__name__ in ("DeformableDETRB", "DeformableDETRV3")


def _module(model):
    name = type(model).__name__
    return _v3() if name == "DeformableDETRV3" else _b() if name == "DeformableDETRB" else v2


def build(config: dict):
    variant = config.get("variant")
    if variant == "v3":
        return _v3().build_model_v3(config)
    return _b().build_model_b(config) if variant == "v2b" else v2.build_model(config)


def forward_train(model, inputs):
    return _module(model).forward_train(model, inputs)


def forward_eval(model, inputs, proposals=None):
    """proposals (v2b, v3 only): Proposals instead of those decoded from the inputs."""
    if proposals is not None:
        return _module(model).forward_eval(model, inputs, proposals)
    return _module(model).forward_eval(model, inputs)


def view_cache(config: dict, data_root: Path):
    from .data import ViewCache

    if config.get("variant") == "v3":
        from .ssd_views import SsdViewCache

        return SsdViewCache(repo_path(config, "cache_dir"), config, data_root)
    return ViewCache(repo_path(config, "cache_dir"))


def init_shared(model, config: dict, log=print) -> None:
    """A fresh v2b / v3 run starts its shared parts (encoder, decoder layers, level_embed, pos_trans; input_proj and
    score / label embeddings where the shapes match) from train.init_from, if the config names one; the heads stay
    zero."""
    source = config["train"].get("init_from")
    if not is_b(model) or not source:
        return
    path = repo_path(config, "init_from")
    if not Path(path).is_file():
        raise SystemExit(f"train.init_from {path} missing")
    state = torch.load(path, map_location="cpu")
    loaded, skipped = _b().load_shared(model, state["model"])
    log(f"init from {path} (step {state.get('step')}): {len(loaded)} tensors loaded, {len(skipped)} skipped")
