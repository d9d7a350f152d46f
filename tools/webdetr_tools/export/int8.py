"""int8 weights for a package graph (issue 34: a second network has to fit the 15 MB download), exact against the
PyTorch reference.

Scheme: symmetric, per output channel, zero point 0: a weight channel w becomes q x s with s = max|w| / 127 and
q = round(w / s) in [-127, 127]. The graph stores q (int8) and s (float32, shaped to broadcast along the channel
axis) and makes the float32 weight back in-graph as Cast(q) x s, so every op still computes in float32 as today.
Cast and Mul of initializers are constant-folded when onnxruntime loads the graph, so the weights are made once per
session. DequantizeLinear, the first form, was run on every frame: onnxruntime keeps it for its quantized kernels.

How the two sides agree without sharing names:
- PyTorch puts the chosen weights on the grid first (`quantize_int8_`: applied until it is a fixed point, so that
  doing it once more changes nothing).
- The ONNX pass (`weights_to_int8`) converts exactly those initializers whose values one more rounding reproduces
  bit for bit, along axis 0 (conv OIHW, or a 2-D weight's first axis) or, for 2-D, axis 1 (a MatMul's [in, out]).
  A weight that was not put on the grid is left alone: a 255-level grid per channel does not happen by chance.
- Run it before `weights_to_fp16` and give that pass the scales to keep (`scale_names`). In PyTorch,
  `round_weights_fp16(..., skip=...)` leaves the grid weights as they are.

API
  grid_int8(w [C, ...] float32 numpy or torch, axis) -> (q int8, s float32 [C]) of one rounding
  quantize_int8_(tensor, axis=0) -> the tensor, in place on its fixed-point grid
  weights_to_int8(path, min_elements=256) -> names of the converted initializers
  scale_names(converted) -> the scale initializers' names (keep them float32)
"""
from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .onnx_io import save_rewritten

QMAX = 127
SCALE_SUFFIX = "__int8_scale"


def grid_int8(w, axis: int = 0):
    """(q, s): s = max|w| / 127 per slice along `axis` (1 where a slice is all zero), q = round(w / s) clipped."""
    array = w.detach().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w)
    array = np.moveaxis(array.astype(np.float32), axis, 0)
    peak = np.abs(array.reshape(len(array), -1)).max(1)
    scale = np.where(peak > 0, peak / np.float32(QMAX), np.float32(1)).astype(np.float32)
    shape = (-1,) + (1,) * (array.ndim - 1)
    q = np.clip(np.rint(array / scale.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return np.moveaxis(q, 0, axis), scale


def _dequantize(q, scale, axis):
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q.astype(np.float32) * scale.reshape(shape)).astype(np.float32)


@torch.no_grad()
def quantize_int8_(tensor: torch.Tensor, axis: int = 0, max_rounds: int = 8) -> torch.Tensor:
    for _ in range(max_rounds):
        q, s = grid_int8(tensor, axis)
        new = torch.from_numpy(_dequantize(q, s, axis)).to(tensor.dtype)
        if torch.equal(new, tensor):
            return tensor
        tensor.copy_(new)
    raise RuntimeError(f"int8 rounding of a {tuple(tensor.shape)} tensor did not settle in {max_rounds} rounds")


def _on_grid(array: np.ndarray, axis: int):
    q, s = grid_int8(array, axis)
    return (q, s) if np.array_equal(_dequantize(q, s, axis), array) else None


def weights_to_int8(path, min_elements: int = 256) -> list[str]:
    """Initializers (float32, 2-D or 4-D, >= min_elements) already on a per-channel int8 grid -> int8 + scale, and
    Cast + Mul named as the initializer was, so its consumers read the same float32 values."""
    model = onnx.load(str(path))
    graph = model.graph
    kept, nodes, converted = [], [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init) if init.data_type == onnx.TensorProto.FLOAT else None
        found = None
        if array is not None and array.ndim in (2, 4) and array.size >= min_elements:
            for axis in (0, 1) if array.ndim == 2 else (0,):
                grid = _on_grid(array, axis)
                if grid is not None and array.shape[axis] > 1:
                    found = (axis, *grid)
                    break
        if found is None:
            kept.append(init)
            continue
        axis, q, scale = found
        shape = [1] * q.ndim
        shape[axis] = -1
        kept.append(numpy_helper.from_array(q, init.name + "__int8"))
        kept.append(numpy_helper.from_array(scale.reshape(shape), init.name + SCALE_SUFFIX))
        nodes.append(
            helper.make_node(
                "Cast",
                [init.name + "__int8"],
                [init.name + "__int8_float"],
                to=onnx.TensorProto.FLOAT,
                name=init.name + "__int8_cast",
            )
        )
        nodes.append(
            helper.make_node(
                "Mul",
                [init.name + "__int8_float", init.name + SCALE_SUFFIX],
                [init.name],
                name=init.name + "__int8_mul",
            )
        )
        converted.append(init.name)
    save_rewritten(model, path, kept, nodes)
    return converted


def scale_names(converted) -> set[str]:
    """The float32 scale initializers of weights_to_int8's converted weights (weights_to_fp16 must keep them)."""
    return {name + SCALE_SUFFIX for name in converted}
