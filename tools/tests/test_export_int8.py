import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from webdetr_tools.export.int8 import grid_int8, quantize_int8_, scale_names, weights_to_int8
from webdetr_tools.export.onnx_io import export_module, weights_to_fp16


def test_grid_is_per_channel_and_symmetric():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -2.0]], np.float32)
    q, s = grid_int8(w, 0)
    np.testing.assert_allclose(s, [1 / 127, 1.0, 2 / 127], rtol=1e-7)
    assert q.dtype == np.int8 and q[0].tolist() == [64, -127, 32] and q[1].tolist() == [0, 0, 0]
    assert np.abs(q).max() == 127
    q1, s1 = grid_int8(w, 1)
    assert len(s1) == 3 and q1[:, 1].tolist() == [-127, 0, 127]


def test_quantize_in_place_is_a_fixed_point():
    t = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    original = t.clone()
    quantize_int8_(t)
    assert (t - original).abs().max() <= original.abs().amax((1, 2, 3)).max() / 127 / 2 + 1e-7
    again = t.clone()
    quantize_int8_(again)
    assert torch.equal(again, t)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.other = torch.nn.Conv2d(16, 8, 1)
        self.dense = torch.nn.Parameter(torch.randn(8, 32, generator=g))  # a MatMul weight [in, out]
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(16, 3, 3, 3, generator=g))
            self.other.weight.copy_(torch.randn(8, 16, 1, 1, generator=g))

    def forward(self, x):
        y = self.other(torch.relu(self.conv(x))).mean((2, 3))
        return y @ self.dense


def test_only_grid_weights_become_int8_and_the_graph_computes_what_pytorch_does(tmp_path):
    net = _Net().eval()
    quantize_int8_(net.conv.weight)
    quantize_int8_(net.dense, axis=1)
    x = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = net(x).numpy()
    path = tmp_path / "net.onnx"
    export_module(net, [x], ["x"], ["y"], path)
    converted = weights_to_int8(path, min_elements=16)
    assert len(converted) == 2  # conv.weight and dense; `other` was not put on the grid
    model = onnx.load(str(path))
    types = {i.name: i.data_type for i in model.graph.initializer}
    assert sum(t == onnx.TensorProto.INT8 for t in types.values()) == 2  # the two weights
    muls = [n for n in model.graph.node if n.op_type == "Mul" and n.name.endswith("__int8_mul")]
    assert len(muls) == 2 and len([n for n in model.graph.node if n.name.endswith("__int8_cast")]) == 2
    scales = scale_names(converted)
    assert scales <= set(types)
    weights_to_fp16(path, keep=scales)
    types = {i.name: i.data_type for i in onnx.load(str(path)).graph.initializer}
    assert all(types[name] == onnx.TensorProto.FLOAT for name in scales)
    # what Cast x scale makes of each int8 weight equals PyTorch's float32 weight bit for bit
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    torch_weights = {w.detach().numpy().shape: w.detach().numpy() for w in (net.conv.weight, net.dense)}
    for node in muls:
        q = inits[node.input[0].replace("__int8_float", "__int8")]
        value = q.astype(np.float32) * inits[node.input[1]]
        torch_value = torch_weights.get(value.shape)
        if torch_value is None:  # exported transposed
            torch_value = torch_weights[value.T.shape].T
        assert np.array_equal(value, torch_value)
    assert expected.shape == (1, 32)


def test_a_weight_off_the_grid_is_left_alone(tmp_path):
    w = np.random.RandomState(0).randn(16, 16).astype(np.float32)
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(w, "w")],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert weights_to_int8(path, min_elements=16) == []


def test_quantize_refuses_to_loop_forever():
    with pytest.raises(RuntimeError, match="settle"):
        quantize_int8_(torch.randn(4, 4), max_rounds=0)


def test_keep_within_takes_the_most_sensitive_that_fit():
    from webdetr_tools.ship.detector_int8 import keep_within

    ranked = [("a", 100, 0.9), ("b", 500, 0.5), ("c", 50, 0.4), ("d", 10, 0.1)]
    assert keep_within(ranked, 160) == ["a", "c", "d"]
    assert keep_within(ranked, 0) == []


class _Graph(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.pointwise = torch.nn.Parameter(torch.randn(32, 16, 1, 1, generator=g))
        self.depthwise = torch.nn.Parameter(torch.randn(32, 1, 3, 3, generator=g))
        self.sensitive = torch.nn.Parameter(torch.randn(32, 32, 1, 1, generator=g))
        self.dense = torch.nn.Parameter(torch.randn(32, 10, generator=g))


class _Holder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.graph = _Graph()


def test_apply_int8_puts_the_chosen_weights_on_their_grid_and_leaves_the_rest():
    from webdetr_tools.export.int8 import grid_int8
    from webdetr_tools.ship.detector_int8 import apply_int8, ssd_candidates

    ssd, classifier = _Holder(), _Holder()
    assert [n for n, _ in ssd_candidates(ssd)] == ["graph.pointwise", "graph.sensitive"]  # depthwise: not SSDLite's
    before = {n: t.clone() for n, t in ssd.named_parameters()}
    done = apply_int8(ssd, classifier, keep_fp16=["graph.sensitive"])
    assert torch.equal(ssd.graph.sensitive, before["graph.sensitive"])
    assert torch.equal(ssd.graph.depthwise, before["graph.depthwise"])
    assert not torch.equal(ssd.graph.pointwise, before["graph.pointwise"])
    # the classifier: every conv (depthwise included) along its outputs, the dense weight along its columns
    assert {id(t) for t in done} >= {id(classifier.graph.depthwise), id(classifier.graph.dense)}
    for tensor, axis in ((classifier.graph.depthwise, 0), (classifier.graph.dense, 1), (ssd.graph.pointwise, 0)):
        q, s = grid_int8(tensor, axis)
        shape = [1] * tensor.dim()
        shape[axis] = -1
        assert np.array_equal(q.astype(np.float32) * s.reshape(shape), tensor.detach().numpy())


def test_package_options_read_what_the_manifest_records():
    from webdetr_tools.ship.detector_v3_package import package_options

    shipped = {"model": {}, "graphs": [{"weights": "fp16"}, {"weights": "fp16"}]}
    assert package_options(shipped) == {"crop_check": None, "int8": False, "fp16": True}
    trial = {
        "model": {"cropCheck": {"shape": {"k": 1, "size": 160}}},
        "graphs": [{"weights": "int8"}, {"weights": "fp16"}],
    }
    assert package_options(trial) == {"crop_check": {"k": 1, "size": 160}, "int8": True, "fp16": True}
    assert package_options({"model": {}, "graphs": [{"weights": "fp32"}]})["fp16"] is False


def test_the_schema_takes_int8_graphs_and_a_crop_check_record():
    import json
    from pathlib import Path

    from webdetr_tools.export.manifest import ManifestError, validate_manifest

    manifest = json.loads(
        (Path(__file__).resolve().parents[2] / "public" / "models" / "detector" / "manifest.json").read_text()
    )
    manifest["graphs"][0]["weights"] = "int8"
    manifest["model"]["cropCheck"] = {"shape": {"k": 1, "size": 160}, "classifier": "EfficientNet-B0"}
    validate_manifest(manifest)
    manifest["model"]["cropCheck"] = {"shape": {"k": 0, "size": 160}}
    with pytest.raises(ManifestError):
        validate_manifest(manifest)
    manifest["model"]["cropCheck"] = {"shape": {"k": 1, "size": 160}}
    manifest["graphs"][0]["weights"] = "int4"
    with pytest.raises(ManifestError):
        validate_manifest(manifest)
