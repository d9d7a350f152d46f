"""The ms_deform_attn fixture generator against an independent loop implementation, and the
committed fixtures against a regeneration (tools/fixtures/ms_deform_attn.py)."""
import json
import math

import numpy as np
import pytest

from conftest import REPO
from fixtures import ms_deform_attn as gen  # tools/fixtures/ms_deform_attn.py
from webdetr_tools.artifact_compare import float_differences

FIXTURES = REPO / "test" / "fixtures" / "ms_deform_attn"


def loop_core(value, levels, locations, weights):
    """Bilinear sampling written out pixel by pixel (zero padding, align_corners=False), float64."""
    n, _, m, d = value.shape
    _, lq, _, num_levels, p, _ = locations.shape
    starts = np.cumsum([0] + [h * w for h, w in levels])
    out = np.zeros((n, lq, m * d))
    for b in range(n):
        for q in range(lq):
            for head in range(m):
                acc = np.zeros(d)
                for lvl, (h, w) in enumerate(levels):
                    for pt in range(p):
                        x, y = (float(t) for t in locations[b, q, head, lvl, pt])
                        px, py = x * w - 0.5, y * h - 0.5
                        x0, y0 = math.floor(px), math.floor(py)
                        fx, fy = px - x0, py - y0
                        for cy, cx, wt in (
                            (y0, x0, (1 - fy) * (1 - fx)),
                            (y0, x0 + 1, (1 - fy) * fx),
                            (y0 + 1, x0, fy * (1 - fx)),
                            (y0 + 1, x0 + 1, fy * fx),
                        ):
                            if 0 <= cy < h and 0 <= cx < w:
                                token = starts[lvl] + cy * w + cx
                                acc += (
                                    float(weights[b, q, head, lvl, pt]) * wt * value[b, token, head].astype(np.float64)
                                )
                out[b, q, head * d : (head + 1) * d] = acc
    return out


def loop_fused_locations(levels, reference, offsets, logits, points):
    n, lq, m, num_levels, p, _ = offsets.shape
    loc = np.zeros(offsets.shape)
    weights = np.zeros((n, lq, m, num_levels, p))
    for b in range(n):
        for q in range(lq):
            for head in range(m):
                row = [float(v) for v in logits[b, q, head]]
                top = max(row)
                exps = [math.exp(v - top) for v in row]
                total = sum(exps)
                for lvl, (h, w) in enumerate(levels):
                    ref = [float(v) for v in reference[b, q, lvl]]
                    for pt in range(p):
                        ox, oy = (float(v) for v in offsets[b, q, head, lvl, pt])
                        if len(ref) == 2:
                            loc[b, q, head, lvl, pt] = (ref[0] + ox / w, ref[1] + oy / h)
                        else:
                            loc[b, q, head, lvl, pt] = (
                                ref[0] + ox / points * ref[2] * 0.5,
                                ref[1] + oy / points * ref[3] * 0.5,
                            )
                        weights[b, q, head, lvl, pt] = exps[lvl * p + pt] / total
    return loc, weights


def case_by_name(name):
    return next(c for c in gen.case_list() if c["name"] == name)


@pytest.mark.parametrize(
    "name",
    [
        "core_basic",
        "core_locations_outside",
        "core_locations_border",
        "core_half_pixel_edges",
        "core_tiny_levels",
        "core_d5",
        "core_n2",
    ],
)
def test_core_formula_matches_pixel_loop(name):
    case = case_by_name(name)
    inputs = gen._rng_inputs(case, np.random.RandomState(case["seed"]))
    levels = [tuple(l) for l in case["levels"]]
    formula = gen.core_reference(inputs["value"], levels, inputs["samplingLocations"], inputs["attentionWeights"])
    loops = loop_core(inputs["value"], levels, inputs["samplingLocations"], inputs["attentionWeights"])
    assert np.abs(formula - loops).max() < 1e-12
    assert np.abs(loops).max() > 0.05  # the case samples something


@pytest.mark.parametrize(
    "name", ["fused_points_basic", "fused_boxes_basic", "fused_boxes_tiny_levels", "fused_large_logits"]
)
def test_fused_formula_matches_loops(name):
    case = case_by_name(name)
    inputs = gen._rng_inputs(case, np.random.RandomState(case["seed"]))
    levels = [tuple(l) for l in case["levels"]]
    loc, weights = loop_fused_locations(
        levels, inputs["referencePoints"], inputs["samplingOffsets"], inputs["attentionLogits"], case["points"]
    )
    assert np.allclose(weights.sum((-1, -2)), 1.0)
    expected = loop_core(inputs["value"], levels, loc, weights)
    assert np.abs(gen.expected_output(case, inputs) - expected).max() < 1e-12


def test_border_cases_hit_the_edges():
    """Half-pixel case: locations exactly at w = -1, -0.5, W - 0.5, W (and 1e-3 px inside) occur."""
    case = case_by_name("core_half_pixel_edges")
    loc = gen._rng_inputs(case, np.random.RandomState(case["seed"]))["samplingLocations"].astype(np.float64)
    height, width = case["levels"][0]
    cx = loc[..., 0, :, 0] * width - 0.5
    cy = loc[..., 0, :, 1] * height - 0.5
    for name, edge in {
        "0.5 px before": lambda n: -1.0,
        "first border": lambda n: -0.5,
        "last border": lambda n: n - 0.5,
        "0.5 px after": lambda n: float(n),
    }.items():
        hit = np.isclose(cx, edge(width), atol=1e-6).any() or np.isclose(cy, edge(height), atol=1e-6).any()
        assert hit, name


def test_hash_uniform_is_uniform_and_24_bit():
    u = gen.hash_uniform(100_000, 7).astype(np.float64)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert np.all(u * 16777216 == np.floor(u * 16777216))


@pytest.mark.parametrize(
    "name",
    [
        "core_basic",
        "core_half_pixel_edges",
        "core_d33",
        "fused_boxes_l8_p16",
        "fused_points_l1_p1",
        "fused_full_decoder_boxes",
    ],
)
def test_regenerated_case_equals_committed_files(name):
    """Metadata exactly; float sections within artifact_compare.RTOL and the float64 checksums within 1e-9 of the
    output's absolute sum (float results may differ by an ULP between CPUs; a changed seed, shape or formula moves
    them by far more)."""
    committed = {c["name"]: c for c in json.loads((FIXTURES / "cases.json").read_text())["cases"]}[name]
    meta, blob = gen.build_case(case_by_name(name))
    checksums = meta.pop("checksum", None), committed.pop("checksum", None)
    assert meta == committed
    if checksums != (None, None):
        generated, expected = checksums
        assert abs(generated["sum"] - expected["sum"]) <= 1e-9 * expected["sumAbs"]
        assert generated["sumAbs"] == pytest.approx(expected["sumAbs"], rel=1e-9)
    stored = (FIXTURES / f"{name}.bin").read_bytes()
    assert len(blob) == len(stored)
    for section in meta["sections"]:
        end = section["offset"] + 4 * section["length"]  # offsets in bytes, lengths in float32 values
        assert (
            float_differences(
                np.frombuffer(blob[section["offset"] : end], "<f4"),
                np.frombuffer(stored[section["offset"] : end], "<f4"),
                section["name"],
            )
            == []
        )


def test_fixture_set_is_complete_and_small():
    names = {c["name"] for c in json.loads((FIXTURES / "cases.json").read_text())["cases"]}
    assert names == {c["name"] for c in gen.case_list()} and len(names) >= 24
    assert {p.stem for p in FIXTURES.glob("*.bin")} == names
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 3_000_000
