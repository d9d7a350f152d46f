"""The TF.js graph interpreter against TF semantics computed independently (numpy), on small graphs.

The full CenterNet graph was also checked against @tensorflow/tfjs itself (see
tools/webdetr_tools/backbones/README.md), and so was the SSDLite graph (tests/test_ssdlite.py); this test keeps
the op semantics honest in CI without the npm tarballs.
"""
import base64
import json

import numpy as np
import torch

from webdetr_tools.backbones.tfjs_graph import TfjsGraph, TfjsGraphModule, TfjsNode, load_tfjs_model


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _tf_conv_same_nhwc(x, w, stride):
    """Direct NHWC conv with TF 'SAME' padding (extra pixel after), HWIO weights."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - wd, 0)
    xp = np.zeros((n, h + ph, wd + pw, c))
    xp[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + wd] = x
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[:, i, j] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def _graph(nodes, weights):
    return TfjsGraph({n.name: n for n in nodes}, weights)


def test_fused_conv_same_stride2_bias_relu_matches_tf_semantics():
    rng = np.random.RandomState(0)
    x = rng.randn(1, 7, 6, 3).astype(np.float32)  # odd size: TF pads asymmetrically
    w = rng.randn(3, 3, 3, 4).astype(np.float32)
    b = rng.randn(4).astype(np.float32)
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        TfjsNode("w", "Const", [], {}),
        TfjsNode("b", "Const", [], {}),
        TfjsNode(
            "conv",
            "_FusedConv2D",
            ["in", "w", "b"],
            {"strides": [1, 2, 2, 1], "dilations": [1, 1, 1, 1], "padding": "SAME", "fused_ops": ["BiasAdd", "Relu"]},
        ),
    ]
    module = TfjsGraphModule(_graph(nodes, {"w": w, "b": b}), ["conv"])
    got = module(torch.from_numpy(x).permute(0, 3, 1, 2))[0].permute(0, 2, 3, 1).numpy()
    want = np.maximum(_tf_conv_same_nhwc(x.astype(np.float64), w.astype(np.float64), 2) + b, 0)
    assert got.shape == want.shape == (1, 4, 3, 4)
    assert np.abs(got - want).max() < 1e-5


def test_depthwise_mean_concat_hardswish():
    rng = np.random.RandomState(1)
    x = rng.randn(1, 5, 5, 2).astype(np.float32)
    dw = rng.randn(3, 3, 2, 1).astype(np.float32)
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        TfjsNode("dw_w", "Const", [], {}),
        TfjsNode("dw", "DepthwiseConv2dNative", ["in", "dw_w"], {"strides": [1, 1, 1, 1], "padding": "SAME"}),
        TfjsNode("axes", "Const", [], {}),
        TfjsNode("mean", "Mean", ["dw", "axes"], {"keep_dims": True}),
        TfjsNode("three", "Const", [], {}),
        TfjsNode("sixth", "Const", [], {}),
        TfjsNode("add", "Add", ["dw", "three"], {}),
        TfjsNode("relu6", "Relu6", ["add"], {}),
        TfjsNode("scaled", "Mul", ["sixth", "dw"], {}),
        TfjsNode("hswish", "Mul", ["scaled", "relu6"], {}),
        TfjsNode("axis", "Const", [], {}),
        TfjsNode("cat", "ConcatV2", ["hswish", "dw", "axis"], {}),
    ]
    weights = {
        "dw_w": dw,
        "axes": np.array([1, 2], np.int32),
        "three": np.array(3, np.float32),
        "sixth": np.array(1 / 6, np.float32),
        "axis": np.array(3, np.int32),
    }
    module = TfjsGraphModule(_graph(nodes, weights), ["mean", "cat"])
    mean, cat = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    depthwise = np.stack(
        [
            _tf_conv_same_nhwc(x[..., c : c + 1].astype(np.float64), dw[:, :, c : c + 1, :].astype(np.float64), 1)[
                ..., 0
            ]
            for c in range(2)
        ],
        -1,
    )
    hswish = depthwise * np.clip(depthwise + 3, 0, 6) / 6
    assert np.abs(mean.permute(0, 2, 3, 1).numpy() - depthwise.mean(axis=(1, 2), keepdims=True)).max() < 1e-5
    assert np.abs(cat.permute(0, 2, 3, 1).numpy() - np.concatenate([hswish, depthwise], -1)).max() < 1e-5


def test_legacy_resize_bilinear_uses_tf1_mapping():
    x = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        TfjsNode("size", "Const", [], {}),
        TfjsNode("up", "ResizeBilinear", ["in", "size"], {"align_corners": False, "half_pixel_centers": False}),
    ]
    module = TfjsGraphModule(_graph(nodes, {"size": np.array([4, 4], np.int32)}), ["up"])
    got = module(x)[0][0, 0]
    # src = dst * 0.5; the last rows/columns clamp to the edge pixel.
    row0 = torch.tensor([0.0, 5.0, 10.0, 10.0])
    want = torch.stack([row0, row0 + 10, row0 + 20, row0 + 20])
    assert torch.allclose(got, want)


def test_unsupported_op_is_named():
    nodes = [TfjsNode("in", "Placeholder", [], {}), TfjsNode("odd", "Softplus", ["in"], {})]
    module = TfjsGraphModule(_graph(nodes, {}), ["odd"])
    try:
        module(torch.zeros(1, 1, 2, 2))
    except NotImplementedError as error:
        assert "Softplus" in str(error)
    else:
        raise AssertionError("an unsupported op must raise")


def test_loader_dequantizes_float16_and_checks_shard_size(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3) / 4
    spec = {
        "modelTopology": {
            "node": [
                {"name": "in", "op": "Placeholder"},
                {"name": "w", "op": "Const"},
                {
                    "name": "conv",
                    "op": "Conv2D",
                    "input": ["in", "w"],
                    "attr": {"padding": {"s": _b64("VALID")}, "strides": {"list": {"i": ["1", "1", "1", "1"]}}},
                },
            ]
        },
        "weightsManifest": [
            {
                "paths": ["m.bin"],
                "weights": [
                    {
                        "name": "w",
                        "shape": [1, 1, 2, 3],
                        "dtype": "float32",
                        "quantization": {"dtype": "float16", "original_dtype": "float32"},
                    }
                ],
            }
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(spec))
    (tmp_path / "m.bin").write_bytes(w.astype(np.float16).tobytes())
    graph = load_tfjs_model(tmp_path / "m.json")
    assert graph.nodes["conv"].attrs["padding"] == "VALID"
    assert np.array_equal(graph.weights["w"], w)
    out = TfjsGraphModule(graph, ["conv"])(torch.ones(1, 2, 1, 1))[0]
    assert torch.allclose(out.reshape(-1), torch.tensor([0.75, 1.25, 1.75]))
    (tmp_path / "m.bin").write_bytes(w.astype(np.float16).tobytes() + b"xx")
    try:
        load_tfjs_model(tmp_path / "m.json")
    except ValueError as error:
        assert "bytes" in str(error)
    else:
        raise AssertionError("a shard with extra bytes must be rejected")


def test_ssd_head_ops_batchnorm_biasadd_addn_and_reshape_in_tf_order():
    """FusedBatchNorm, BiasAdd and AddN on NCHW values; Shape / StridedSlice / Pack / Reshape see TF's NHWC order
    (an SSD box predictor flattens [N, H, W, A*4] to [N, H*W*A, 4]); a fed input_name skips what is upstream."""
    rng = np.random.RandomState(2)
    x = rng.randn(2, 3, 2, 4).astype(np.float32)  # NHWC
    gamma, beta, mean = (rng.randn(4).astype(np.float32) for _ in range(3))
    var, bias = rng.rand(4).astype(np.float32) + 0.5, rng.randn(4).astype(np.float32)
    nodes = [
        TfjsNode("raw", "Placeholder", [], {}),
        TfjsNode("in", "Relu", ["raw"], {}),  # fed directly: the Relu must not run
        *[TfjsNode(n, "Const", [], {}) for n in ("gamma", "beta", "mean", "var", "bias", "b0", "b1", "st", "a", "c")],
        TfjsNode("bn", "FusedBatchNorm", ["in", "gamma", "beta", "mean", "var"], {"epsilon": 1e-3}),
        TfjsNode("biased", "BiasAdd", ["bn", "bias"], {}),
        TfjsNode("sum", "AddN", ["biased", "in", "bn"], {}),
        TfjsNode("shape", "Shape", ["sum"], {}),
        TfjsNode("batch", "StridedSlice", ["shape", "b0", "b1", "st"], {"shrink_axis_mask": 1}),
        TfjsNode("target", "Pack", ["batch", "a", "c"], {"axis": 0}),
        TfjsNode("flat", "Reshape", ["sum", "target"], {}),
    ]
    weights = {"gamma": gamma, "beta": beta, "mean": mean, "var": var, "bias": bias}
    weights |= {"b0": np.array([0], np.int32), "b1": np.array([1], np.int32), "st": np.array([1], np.int32)}
    weights |= {"a": np.array(12, np.int32), "c": np.array(2, np.int32)}
    module = TfjsGraphModule(_graph(nodes, weights), ["flat", "shape"], input_name="in")
    flat, shape = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    bn = (x - mean) / np.sqrt(var + 1e-3) * gamma + beta
    want = (bn + bias + x + bn).reshape(2, 12, 2)
    assert shape.tolist() == [2, 3, 2, 4]
    assert flat.shape == (2, 12, 2) and np.abs(flat.numpy() - want).max() < 1e-5


def test_box_decoding_ops_unpack_transpose_tile_slice_squeeze_expand():
    rng = np.random.RandomState(3)
    x = rng.randn(1, 5, 1, 4).astype(np.float32)  # a 4-D value: held NCHW, reshaped in TF order
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        *[TfjsNode(n, "Const", [], {}) for n in ("sq_shape", "perm", "reps", "begin", "size", "dim")],
        TfjsNode("sq", "Squeeze", ["in"], {"squeeze_dims": [2]}),
        TfjsNode("two_d", "Reshape", ["sq", "sq_shape"], {}),
        TfjsNode("t", "Transpose", ["two_d", "perm"], {}),
        TfjsNode("rows", "Unpack", ["t"], {"num": 4, "axis": 0}),
        TfjsNode("diff", "Sub", ["rows:2", "rows"], {}),
        TfjsNode("e", "Exp", ["rows:3"], {}),
        TfjsNode("tiled", "Tile", ["sq", "reps"], {}),
        TfjsNode("sliced", "Slice", ["tiled", "begin", "size"], {}),
        TfjsNode("expanded", "ExpandDims", ["sq", "dim"], {}),
    ]
    weights = {
        "sq_shape": np.array([-1, 4], np.int32),
        "perm": np.array([1, 0], np.int32),
        "reps": np.array([2, 1, 1], np.int32),
        "begin": np.array([1, 0, 1], np.int32),
        "size": np.array([-1, 3, -1], np.int32),
        "dim": np.array(2, np.int32),
    }
    module = TfjsGraphModule(_graph(nodes, weights), ["diff", "e", "sliced", "expanded"])
    diff, e, sliced, expanded = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    rows = x.reshape(5, 4)
    assert np.allclose(diff.numpy(), rows[:, 2] - rows[:, 0])
    assert np.allclose(e.numpy(), np.exp(rows[:, 3]))
    assert np.allclose(sliced.numpy(), np.tile(x[:, :, 0], (2, 1, 1))[1:, 0:3, 1:])
    # expanded back to 4-D [1, 5, 1, 4] in TF order, held NCHW
    assert np.allclose(expanded.permute(0, 2, 3, 1).numpy(), x)


def test_loader_reads_byte_list_strings_of_older_converters(tmp_path):
    spec = {
        "modelTopology": {
            "node": [
                {"name": "in", "op": "Placeholder"},
                {"name": "w", "op": "Const"},
                {
                    "name": "conv",
                    "op": "Conv2D",
                    "input": ["in", "w"],
                    "attr": {
                        "padding": {"s": list(b"SAME")},
                        "strides": {"list": {"s": [], "i": ["1", "1", "1", "1"], "f": []}},
                    },
                },
            ]
        },
        "weightsManifest": [
            {"paths": ["m.bin"], "weights": [{"name": "w", "shape": [1, 1, 1, 1], "dtype": "float32"}]}
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(spec))
    (tmp_path / "m.bin").write_bytes(np.ones(1, np.float32).tobytes())
    graph = load_tfjs_model(tmp_path / "m.json")
    assert graph.nodes["conv"].attrs["padding"] == "SAME"
    assert graph.nodes["conv"].attrs["strides"] == [1, 1, 1, 1]


def test_batchnorm_on_constants_is_folded_into_the_parameters_an_export_stores():
    """Its scale and shift are parameters computed once (the module's parameters are then what a traced export
    stores, so rounding them to fp16 rounds what a fp16 package stores); the output stays TF's batch norm."""
    rng = np.random.RandomState(3)
    x = rng.randn(1, 2, 2, 4).astype(np.float32)  # NHWC
    gamma, beta, mean = (rng.randn(4).astype(np.float32) for _ in range(3))
    var = rng.rand(4).astype(np.float32) + 0.5
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        *[TfjsNode(n, "Const", [], {}) for n in ("gamma", "beta", "mean", "var")],
        TfjsNode("bn", "FusedBatchNorm", ["in", "gamma", "beta", "mean", "var"], {"epsilon": 1e-3}),
    ]
    module = TfjsGraphModule(_graph(nodes, {"gamma": gamma, "beta": beta, "mean": mean, "var": var}), ["bn"])
    scale = gamma / np.sqrt(var + 1e-3)
    assert np.abs(module.bn0_scale.detach().numpy().reshape(-1) - scale).max() < 1e-6
    assert np.abs(module.bn0_shift.detach().numpy().reshape(-1) - (beta - mean * scale)).max() < 1e-6
    with torch.no_grad():
        module.bn0_scale.zero_()  # forward reads the folded parameters, not gamma / var
        (out,) = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert np.abs(out.permute(0, 2, 3, 1).numpy() - (beta - mean * scale)).max() < 1e-6


def test_classifier_head_ops_normalise_pool_matmul_softmax():
    """EfficientNet-B0's ops: (x - BroadcastTo(mean, Shape(x))) / BroadcastTo(std, ...), Mean over H, W, a
    _FusedMatMul with BiasAdd, Softmax over the last axis; against numpy in NHWC."""
    rng = np.random.RandomState(3)
    x = rng.rand(2, 3, 4, 3).astype(np.float32)  # NHWC
    mean, std = np.array([0.4, 0.5, 0.6], np.float32), np.array([0.2, 0.25, 0.3], np.float32)
    weight, bias = rng.randn(3, 5).astype(np.float32), rng.randn(5).astype(np.float32)
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        TfjsNode("shape", "Shape", ["in"], {}),
        TfjsNode("mean", "Const", [], {}),
        TfjsNode("std", "Const", [], {}),
        TfjsNode("mean_b", "BroadcastTo", ["mean", "shape"], {}),
        TfjsNode("std_b", "BroadcastTo", ["std", "shape"], {}),
        TfjsNode("centred", "Sub", ["in", "mean_b"], {}),
        TfjsNode("scaled", "RealDiv", ["centred", "std_b"], {}),
        TfjsNode("axes", "Const", [], {}),
        TfjsNode("pool", "Mean", ["scaled", "axes"], {}),
        TfjsNode("w", "Const", [], {}),
        TfjsNode("b", "Const", [], {}),
        TfjsNode("logits", "_FusedMatMul", ["pool", "w", "b"], {"fused_ops": ["BiasAdd"]}),
        TfjsNode("probs", "Softmax", ["logits"], {}),
    ]
    weights = {"mean": mean, "std": std, "axes": np.array([1, 2], np.int32), "w": weight, "b": bias}
    module = TfjsGraphModule(_graph(nodes, weights), ["probs"])
    (probs,) = module(torch.from_numpy(x).permute(0, 3, 1, 2))
    logits = ((x - mean) / std).mean(axis=(1, 2)).astype(np.float64) @ weight + bias
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert probs.shape == (2, 5)
    assert np.abs(probs.numpy() - expected).max() < 1e-5
