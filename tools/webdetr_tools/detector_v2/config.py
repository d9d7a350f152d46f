"""Detector v2 config: one JSON file (tools/configs/detector_v2.json), paths in it relative to the repo.

API: REPO; load_config(path) -> dict (checked: required sections, two-stage needs box refinement, every
class a COCO-80 name); repo_path(config, key) -> absolute Path of train[key].
"""
from __future__ import annotations

import json
from pathlib import Path

from ..teacher.coco80 import COCO80_NAMES

REPO = Path(__file__).resolve().parents[3]
SECTIONS = ("seed", "feature_size", "classes", "data", "augment", "model", "loss", "optim", "train")


def load_config(path: Path) -> dict:
    config = json.loads(Path(path).read_text())
    missing = [k for k in SECTIONS if k not in config]
    if missing:
        raise ValueError(f"{path}: missing {missing}")
    unknown = [n for n in config["classes"] if n not in COCO80_NAMES]
    if unknown:
        raise ValueError(f"{path}: classes not in COCO-80: {unknown}")
    if config["augment"]["views"] < 1:
        raise ValueError(f"{path}: augment.views must be >= 1 (view 0 is the identity)")
    return config


def repo_path(config: dict, key: str) -> Path:
    p = Path(config["train"][key])
    return p if p.is_absolute() else REPO / p
