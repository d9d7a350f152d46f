"""torch.onnx export of one module, and the fp16-weights rewrite (fp16 initializers + Cast to fp32)."""
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

OPSET = 17


def export_module(module, inputs, input_names, output_names, path, opset=OPSET, dynamic_axes=None):
    """dynamic_axes: {tensor name: {axis: symbol}} as torch.onnx.export takes it (None: all shapes fixed)."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(inputs),
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            opset_version=opset,
            do_constant_folding=True,
            dynamic_axes=dynamic_axes,
        )
    model = onnx.load(str(path))
    exported = [i.name for i in model.graph.input]
    if exported != list(input_names):
        raise RuntimeError(f"{path}: graph inputs {exported} differ from the plan's {list(input_names)}")
    return model


def save_rewritten(model, path, initializers, new_nodes):
    """The graph with `initializers` in place of its own and `new_nodes` (which make the old initializers' names from
    the new ones) in front of its nodes, checked and saved to path."""
    graph = model.graph
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = list(new_nodes) + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def weights_to_fp16(path, min_elements=16, keep=()):
    """Store float32 initializers (>= min_elements, not named in `keep`) as float16 and Cast them back to float32
    in-graph: the file halves while every op still computes in fp32. Returns the number of converted initializers.
    keep: e.g. export/int8.scale_names of the int8 pass, whose exact float32 scales make the int8 weights equal the
    reference."""
    keep = set(keep)
    model = onnx.load(str(path))
    graph = model.graph
    casts, kept = [], []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements or init.name in keep:
            kept.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        kept.append(half)
        casts.append(
            helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT, name=init.name + "__cast")
        )
    save_rewritten(model, path, kept, casts)
    return len(casts)
