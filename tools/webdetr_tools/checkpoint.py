"""Official-layout checkpoints: {'model': state_dict, 'args': argparse.Namespace}.

API: load_checkpoint(path) -> (state_dict, args_dict); save_checkpoint(path, state_dict, args_dict).
Loading accepts a bare state dict too (args then {}), and args stored as a dict or a Namespace.
"""
import argparse
from pathlib import Path

import torch


def load_checkpoint(path) -> tuple:
    # official checkpoints pickle an argparse.Namespace, which weights_only loading refuses
    raw = torch.load(str(path), map_location="cpu", weights_only=False)
    if isinstance(raw, dict) and "model" in raw and isinstance(raw["model"], dict):
        state_dict, args = raw["model"], raw.get("args")
    elif isinstance(raw, dict) and all(isinstance(v, torch.Tensor) for v in raw.values()):
        state_dict, args = raw, None
    else:
        raise ValueError(f"{path}: not an official checkpoint (expected {{'model': state_dict, 'args': ...}})")
    if args is None:
        args_dict = {}
    elif isinstance(args, argparse.Namespace):
        args_dict = dict(vars(args))
    elif isinstance(args, dict):
        args_dict = dict(args)
    else:
        raise ValueError(f"{path}: unsupported 'args' type {type(args).__name__}")
    return dict(state_dict), args_dict


def save_checkpoint(path, state_dict: dict, args: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": dict(state_dict), "args": argparse.Namespace(**args)}, str(path))
