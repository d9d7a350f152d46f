"""Synthetic weights for official state-dict layouts (the rule in ../shared/reference/README.md).

API: synthetic_state_dict(shapes, seed=1) -> {key: float32 tensor}. One numpy RandomState(seed); keys in
sorted() order; each key draws n = standard_normal(shape) (float64) and becomes
  running_var: 0.5 + 0.5*|n|;  >= 2 dims: n / sqrt(prod(shape[1:]));  1-d '.weight': 1 + 0.1*n;  else 0.1*n.
The returned dict keeps the input's key order (the draw order is sorted()).
"""
import math

import numpy as np
import torch


def synthetic_value(key: str, shape, normal: np.ndarray) -> np.ndarray:
    if key.endswith("running_var"):
        return 0.5 + 0.5 * np.abs(normal)
    if len(shape) >= 2:
        return normal / math.sqrt(float(np.prod(shape[1:])))
    if len(shape) == 1 and key.endswith(".weight"):
        return 1 + 0.1 * normal
    return 0.1 * normal


def synthetic_state_dict(shapes: dict, seed: int = 1) -> dict:
    rng = np.random.RandomState(seed)
    drawn = {}
    for key in sorted(shapes):
        shape = tuple(int(s) for s in shapes[key])
        normal = rng.standard_normal(size=shape)
        drawn[key] = torch.from_numpy(np.asarray(synthetic_value(key, shape, normal), dtype=np.float32))
    return {key: drawn[key] for key in shapes}
