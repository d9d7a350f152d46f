"""Initialise a detector from a pretrained checkpoint (e.g. AlignDet's model_final.pt, or another run's):
every weight except the class head, which keeps its fresh focal-prior initialisation (the pretrained
head knows other classes, or AlignDet's single 'object' class).

Strict otherwise: every other tensor of the detector must be in the checkpoint with the same shape
(the architectures must match), or it raises; extra checkpoint tensors (e.g. a projection head saved
under other keys) are ignored because only checkpoint['model'] is read. An AlignDet run's checkpoint.pt
(keys 'detector.*' and 'projector.*') works too: its detector part is taken.

API: load_pretrained(model, path) -> report dict(path, step, loaded [names], kept [names], parameters
     loaded (int)); the caller logs it.
"""
from __future__ import annotations

from pathlib import Path

import torch

CLASS_HEAD_PREFIXES = ("class_embed.", "transformer.decoder.class_embed.")


def load_pretrained(model, path: Path) -> dict:
    state = torch.load(path, map_location="cpu")
    weights = state["model"] if "model" in state else state
    if any(k.startswith("detector.") for k in weights):  # an AlignDet checkpoint.pt mid-run: the whole AlignDetModel
        weights = {k[len("detector.") :]: v for k, v in weights.items() if k.startswith("detector.")}
    own = model.state_dict()
    kept = sorted(k for k in own if k.startswith(CLASS_HEAD_PREFIXES))
    wanted = [k for k in own if k not in kept]
    missing = [k for k in wanted if k not in weights]
    mismatched = [k for k in wanted if k in weights and weights[k].shape != own[k].shape]
    if missing or mismatched:
        raise ValueError(f"{path}: cannot initialise from it: missing {missing[:5]}, shape mismatch {mismatched[:5]}")
    model.load_state_dict({**own, **{k: weights[k] for k in wanted}})
    return dict(
        path=str(path),
        step=state.get("step"),
        loaded=wanted,
        kept=kept,
        parameters_loaded=int(sum(own[k].numel() for k in wanted)),
    )
