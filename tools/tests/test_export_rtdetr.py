"""RT-DETR export through tools/export.py (the `npm run export` entry): an official-layout .pth is recognised,
exported to a valid package whose decoder cross-attention is msDeformAttnRt stages; what the weights cannot say comes
from --rtdetr-config, and contradictions are errors. Numerical parity is test/export/export-parity-rtdetr.test.ts."""
import json

import pytest
import torch

from export import main as export_main  # tools/export.py
from webdetr_tools.export.rtdetr_export import build_rtdetr, is_rtdetr_checkpoint
from webdetr_tools.rtdetr.synthetic import synthetic_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    state_dict, cfg = synthetic_checkpoint("v2", seed=5, cross_attn_method="discrete")
    path = tmp_path_factory.mktemp("rtdetr") / "rtdetrv2_synthetic.pth"
    torch.save({"model": state_dict}, path)
    return path, state_dict, cfg


def test_export_cli_writes_an_rtdetr_package(checkpoint, tmp_path):
    path, _, cfg = checkpoint
    assert is_rtdetr_checkpoint(path)
    config = {"dec_heads": 4, "enc_heads": 4, "queries": 30, "num_points": [4, 2, 3], "cross_attn_method": "discrete"}
    out = tmp_path / "pkg"
    export_main(
        [str(path), "--out", str(out), "--height", "64", "--width", "64", "--no-single-graph"]
        + [
            "--rtdetr-config",
            json.dumps(config),
        ]
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "rt-detr" and manifest["model"]["variant"] == "v2"
    assert manifest["input"]["sizePolicy"] == {"kind": "fixed", "height": 64, "width": 64}
    assert (manifest["input"]["mean"], manifest["input"]["std"], manifest["input"]["pixelScale"]) == (
        [0.0] * 3,
        [1.0] * 3,
        255,
    )
    kernels = [s for s in manifest["pipelines"][0]["stages"] if s["kind"] == "msDeformAttnRt"]
    assert len(kernels) == cfg["dec_layers"]
    assert kernels[0]["points"] == [4, 2, 3] and kernels[0]["method"] == "discrete"
    assert kernels[0]["levels"] == [[8, 8], [4, 4], [2, 2]] and kernels[0]["sharedReference"] is True


def test_config_contradictions_are_errors(checkpoint):
    _, state_dict, _ = checkpoint
    with pytest.raises(ValueError, match="heads"):
        build_rtdetr(state_dict, {"dec_heads": 8})
    # 4 heads x 9 points either way, but the stored 1 / P_l say [4, 2, 3], not [3, 3, 3]
    with pytest.raises(ValueError, match="num_points_scale"):
        build_rtdetr(state_dict, {"dec_heads": 4, "enc_heads": 4, "num_points": [3, 3, 3]})
    assert not is_rtdetr_checkpoint(__file__)
