"""The TF.js graph interpreter against TF semantics computed independently (numpy), on small graphs.

The full CenterNet graph was also checked against @tensorflow/tfjs itself (see
tools/webdetr_tools/backbones/README.md); this test keeps the op semantics honest in CI without the
145 MB npm tarball.
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
