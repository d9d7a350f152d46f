"""Graph rewrites that keep what an exported graph computes and make it cheaper for onnxruntime-web (WASM).

fold_pads_into_convs: TF "SAME" convolutions come out of the TF.js interpreter as an explicit zero Pad (often
asymmetric, e.g. 0 top/left + 1 bottom/right at stride 2) in front of an unpadded Conv. onnxruntime-web 1.30 keeps
those Pads (their pads are computed by Slice/Transpose/Reshape/Cast chains of constants that it folds, but no Pad
fusion follows), and a Pad copies the whole activation: on the v2b teacher's 26 of them ~8 ms of a ~75 ms
encoder_input graph. ONNX Conv takes asymmetric `pads`, and a zero Pad followed by an unpadded Conv is exactly that
Conv with those pads (the same products, the padded taps add zeros), so each such pair becomes one Conv.

API
  fold_pads_into_convs(model) -> number of Pads folded (model edited in place; dead constant chains dropped)
  fold_pads_in_file(path) -> the same on an .onnx file, rewritten in place
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.mapping import TENSOR_TYPE_TO_NP_TYPE  # onnx 1.12 has no helper.tensor_dtype_to_np_dtype


def _static_shapes(model):
    """name -> shape for every tensor whose shape ONNX shape inference resolves to numbers."""
    inferred = onnx.shape_inference.infer_shapes(model).graph
    shapes = {}
    for info in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        dims = info.type.tensor_type.shape.dim
        if info.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = [d.dim_value for d in dims]
    return shapes


def _divide(x, y):
    return np.trunc(x / y).astype(x.dtype) if np.issubdtype(x.dtype, np.integer) else x / y


def _constant_values(model):
    """name -> ndarray for every tensor computable from initializers, Constant nodes and static shapes (the ops
    torch.onnx traces for the pads of a SAME convolution; any other op ends a chain, which then stays as it is)."""
    graph = model.graph
    shapes = _static_shapes(model)
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    ops = {
        "Identity": lambda a, x: x,
        "Cast": lambda a, x: x.astype(TENSOR_TYPE_TO_NP_TYPE[a["to"]]),
        "Transpose": lambda a, x: np.transpose(x, a.get("perm")),
        "Reshape": lambda a, x, shape: x.reshape([d if d != 0 else x.shape[i] for i, d in enumerate(shape)]),
        "Unsqueeze": lambda a, x, axes: np.expand_dims(x, tuple(int(v) for v in axes)),
        "Squeeze": lambda a, x, axes=None: np.squeeze(x, None if axes is None else tuple(int(v) for v in axes)),
        "Concat": lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
        "ConstantOfShape": lambda a, shape: np.full(
            [int(d) for d in shape], numpy_helper.to_array(a["value"]).reshape(-1)[0] if "value" in a else np.float32(0)
        ),
        "Neg": lambda a, x: -x,
        "Add": lambda a, x, y: x + y,
        "Sub": lambda a, x, y: x - y,
        "Mul": lambda a, x, y: x * y,
        "Div": lambda a, x, y: _divide(x, y),
        "Gather": lambda a, x, i: np.take(x, i, axis=a.get("axis", 0)),
    }
    for node in graph.node:
        attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            values[node.output[0]] = numpy_helper.to_array(attrs["value"])
        elif node.op_type == "Shape" and node.input[0] in shapes and not attrs:
            values[node.output[0]] = np.array(shapes[node.input[0]], dtype=np.int64)
        elif node.op_type == "Slice" and all(i in values for i in node.input if i):
            data, starts, ends = (values[i] for i in node.input[:3])
            axes = values[node.input[3]] if len(node.input) > 3 and node.input[3] else range(len(starts))
            steps = values[node.input[4]] if len(node.input) > 4 and node.input[4] else [1] * len(starts)
            index = [slice(None)] * data.ndim
            for axis, start, end, step in zip(axes, starts, ends, steps):
                index[int(axis)] = slice(int(start), int(end), int(step))
            values[node.output[0]] = data[tuple(index)]
        elif node.op_type in ops and node.input and all(i in values for i in node.input if i):
            values[node.output[0]] = ops[node.op_type](attrs, *(values[i] for i in node.input if i))
    return values


def _drop_dead_nodes(graph):
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    kept = list(reversed(keep))
    del graph.node[:]
    graph.node.extend(kept)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def fold_pads_into_convs(model) -> int:
    # Shape inference stops at a Pad whose pads it cannot read, so the shapes (and the pads computed from them)
    # behind it are known only once it is folded: fold until nothing changes.
    total = 0
    while True:
        folded = _fold_pass(model)
        total += folded
        if not folded:
            return total


def _fold_pass(model) -> int:
    graph = model.graph
    values = _constant_values(model)
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    folded = 0
    for pad in list(graph.node):
        if pad.op_type != "Pad" or pad.output[0] in outputs or len(consumers.get(pad.output[0], [])) != 1:
            continue
        conv = consumers[pad.output[0]][0]
        attrs = {at.name: helper.get_attribute_value(at) for at in pad.attribute}
        mode = attrs.get("mode", b"constant")
        value = pad.input[2] if len(pad.input) > 2 else ""
        if conv.op_type != "Conv" or conv.input[0] != pad.output[0] or mode not in (b"constant", "constant"):
            continue
        if pad.input[1] not in values or (value and (value not in values or np.any(values[value] != 0))):
            continue
        if len(pad.input) > 3 and pad.input[3]:  # opset-18 `axes`: not what torch.onnx writes here
            continue
        pads = [int(v) for v in values[pad.input[1]].reshape(-1)]
        rank = len(pads) // 2
        begin, end = pads[:rank], pads[rank:]
        if rank < 3 or min(pads) < 0 or any(begin[:2]) or any(end[:2]):
            continue
        conv_attrs = {at.name: helper.get_attribute_value(at) for at in conv.attribute}
        if conv_attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        spatial = rank - 2
        old = list(conv_attrs.get("pads", [0] * (2 * spatial)))
        new = [old[i] + begin[2 + i] for i in range(spatial)] + [old[spatial + i] + end[2 + i] for i in range(spatial)]
        kept = [at for at in conv.attribute if at.name != "pads"]
        del conv.attribute[:]
        conv.attribute.extend(kept + [helper.make_attribute("pads", new)])
        conv.input[0] = pad.input[0]
        graph.node.remove(pad)
        folded += 1
    if folded:
        _drop_dead_nodes(graph)
    return folded


def fold_pads_in_file(path) -> int:
    model = onnx.load(str(path))
    folded = fold_pads_into_convs(model)
    if folded:
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    return folded
