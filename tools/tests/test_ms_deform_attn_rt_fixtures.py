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
    meta = json.loads((FIXTURES / "cases.json").read_text())
    committed = next(c for c in meta["cases"] if c["name"] == name)
    case = next(c for c in gen.case_list() if c["name"] == name)
    fresh, blob = gen.build_case(case)
    assert {k: v for k, v in fresh.items() if k != "checksum"} == {
        k: v for k, v in committed.items() if k != "checksum"
    }
    old = np.frombuffer((FIXTURES / f"{name}.bin").read_bytes(), dtype="<f4")
    assert float_differences(np.frombuffer(blob, dtype="<f4"), old, name) == []


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
