"""The ms_deform_attn_rt fixture generator (tools/fixtures/ms_deform_attn_rt.py): committed fixtures equal a
regeneration, and its formula equals the official RT-DETR code's deformable_attention_core_func_v2 when a
snapshot of lyuwenyu/RT-DETR is present (WEBDETR_RTDETR_REPO, a bare git dir; skipped otherwise)."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from fixtures import ms_deform_attn_rt as gen  # tools/fixtures/ms_deform_attn_rt.py
from webdetr_tools.artifact_compare import float_differences

FIXTURES = REPO / "test" / "fixtures" / "ms_deform_attn_rt"
OFFICIAL = Path(os.environ.get("WEBDETR_RTDETR_REPO", "/work/.mirror/lyuwenyu+RT-DETR/repo"))


def official_utils():
    """rtdetrv2_pytorch/src/zoo/rtdetr/utils.py from the snapshot (plain torch, no package imports)."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"no RT-DETR snapshot at {OFFICIAL}")
    path = "rtdetrv2_pytorch/src/zoo/rtdetr/utils.py"
    source = subprocess.run(
        ["git", f"--git-dir={OFFICIAL}", "show", f"HEAD:{path}"], capture_output=True, check=True
    ).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("rtdetr_official_utils", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("rtdetr_official_utils", None)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["core_points_per_level", "fused_decoder_boxes_discrete", "fused_decoder_640"])
def test_committed_fixtures_equal_a_regeneration(name):
    """Metadata exactly; each float section within artifact_compare.RTOL (of its own values, not of the largest
    in the file) and the float64 checksum of a sampled case's whole output within 1e-9 of its absolute sum (float
    results may differ by an ULP between CPUs; a changed seed, shape or formula moves them by far more)."""
    meta = json.loads((FIXTURES / "cases.json").read_text())
    committed = dict(next(c for c in meta["cases"] if c["name"] == name))
    case = next(c for c in gen.case_list() if c["name"] == name)
    fresh, blob = gen.build_case(case)
    checksums = fresh.pop("checksum", None), committed.pop("checksum", None)
    assert fresh == committed
    if checksums != (None, None):  # the sampled cases store 64 rows; the checksum covers every row
        generated, expected = checksums
        assert abs(generated["sum"] - expected["sum"]) <= 1e-9 * expected["sumAbs"]
        assert generated["sumAbs"] == pytest.approx(expected["sumAbs"], rel=1e-9)
    stored = (FIXTURES / f"{name}.bin").read_bytes()
    assert len(blob) == len(stored)
    for section in fresh["sections"]:
        end = section["offset"] + 4 * section["length"]  # offsets in bytes, lengths in float32 values
        generated, old = (np.frombuffer(b[section["offset"] : end], "<f4") for b in (blob, stored))
        assert float_differences(generated, old, f"{name} {section['name']}") == []


@pytest.mark.parametrize("method", ["default", "discrete"])
def test_formula_equals_the_official_core(method):
    utils = official_utils()
    rng = np.random.RandomState(3)
    levels, num_points, n, lq, m, d = [(6, 6), (3, 3), (2, 2)], [4, 2, 3], 2, 7, 2, 4
    value = rng.uniform(-1, 1, size=(n, sum(h * w for h, w in levels), m, d)).astype(np.float32)
    loc = rng.uniform(-0.2, 1.2, size=(n, lq, m, sum(num_points), 2)).astype(np.float32)
    weights = rng.uniform(0, 1, size=(n, lq, m, sum(num_points))).astype(np.float32)
    ours = gen.core_v2(value, levels, loc, weights, num_points, method)
    official = utils.deformable_attention_core_func_v2(
        torch.from_numpy(value).double(),
        levels,
        torch.from_numpy(loc).double(),
        torch.from_numpy(weights).double(),
        num_points,
        method=method,
    ).numpy()
    assert np.abs(ours - official).max() <= 1e-12
