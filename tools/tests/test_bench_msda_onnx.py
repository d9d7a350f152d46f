"""The benchmark's plain-ONNX MSDeformAttn graphs compute what they claim (tools/bench/make_ms_deform_attn_onnx.py)."""
import math
import os

import onnx
import pytest
import torch

from bench import make_ms_deform_attn_onnx as mk

HERE = os.path.dirname(os.path.abspath(__file__))

LEVELS = [(5, 7), (3, 4), (2, 2), (1, 3)]


def naive_core(value, levels, locations, weights):
    """Per-sample bilinear sampling written out (zeros outside, align_corners=False), float64."""
    n, _, m, d = value.shape
    _, lq, _, num_levels, p, _ = locations.shape
    starts = [0]
    for h, w in levels:
        starts.append(starts[-1] + h * w)
    out = torch.zeros(n, lq, m, d, dtype=torch.float64)
    for b in range(n):
        for q in range(lq):
            for head in range(m):
                for lvl, (h, w) in enumerate(levels):
                    for pt in range(p):
                        x = locations[b, q, head, lvl, pt, 0].item() * w - 0.5
                        y = locations[b, q, head, lvl, pt, 1].item() * h - 0.5
                        x0, y0 = math.floor(x), math.floor(y)
                        for yy, wy in ((y0, y0 + 1 - y), (y0 + 1, y - y0)):
                            for xx, wx in ((x0, x0 + 1 - x), (x0 + 1, x - x0)):
                                if 0 <= yy < h and 0 <= xx < w:
                                    token = starts[lvl] + yy * w + xx
                                    a = weights[b, q, head, lvl, pt].item() * wy * wx
                                    out[b, q, head] += a * value[b, token, head].double()
    return out.reshape(n, lq, m * d)


def test_core_matches_naive_bilinear_including_borders():
    torch.manual_seed(0)
    s = sum(h * w for h, w in LEVELS)
    value = torch.randn(2, s, 2, 3)
    # Locations spread to 0.3 outside [0, 1] on both sides: border and fully outside samples.
    locations = torch.rand(2, 5, 2, 4, 3, 2) * 1.6 - 0.3
    weights = torch.rand(2, 5, 2, 4, 3)
    got = mk.deform_attn_core(value, LEVELS, locations, weights).double()
    assert (got - naive_core(value, LEVELS, locations, weights)).abs().max().item() < 1e-5


@pytest.mark.parametrize("ref_dim", [2, 4])
def test_fused_is_softmax_plus_location_formula_plus_core(ref_dim):
    torch.manual_seed(1)
    s = sum(h * w for h, w in LEVELS)
    n, lq, m, d, p = 1, 6, 2, 4, 3
    value = torch.randn(n, s, m, d)
    ref = torch.rand(n, lq, len(LEVELS), ref_dim)
    offsets = torch.randn(n, lq, m, len(LEVELS), p, 2) * 2
    logits = torch.randn(n, lq, m, len(LEVELS) * p)
    weights = torch.softmax(logits, -1).reshape(n, lq, m, len(LEVELS), p)
    wh = torch.tensor([[w, h] for h, w in LEVELS], dtype=torch.float32)
    if ref_dim == 2:
        locations = ref[:, :, None, :, None, :] + offsets / wh[None, None, None, :, None, :]
    else:
        locations = ref[:, :, None, :, None, :2] + offsets / p * ref[:, :, None, :, None, 2:] * 0.5
    expected = naive_core(value, LEVELS, locations, weights)
    got = mk.FusedGraph(LEVELS, p)(value, ref, offsets, logits).double()
    assert (got - expected).abs().max().item() < 1e-5


def test_exported_graph_is_plain_gridsample_opset16(tmp_path):
    shapes = mk.case_shapes("decoder")
    assert shapes["tokens"] == 17821 and shapes["queries"] == 300 and shapes["referenceDim"] == 4
    assert mk.case_shapes("small-encoder")["tokens"] == 4080
    info = mk.export_case("decoder", str(tmp_path), 16)
    for kind in ("core", "fused"):
        model = onnx.load(os.path.join(tmp_path, info["graphs"][kind]))
        onnx.checker.check_model(model)
        assert model.opset_import[0].version == 16
        ops = [node.op_type for node in model.graph.node]
        assert ops.count("GridSample") == 4
        assert ("Softmax" in ops) == (kind == "fused")
        assert [i.name for i in model.graph.input] == list(shapes["inputs"][kind])
        assert os.path.getsize(os.path.join(tmp_path, info["graphs"][kind])) < 50_000  # no weights
