"""Detector v2b package path (ship/detector_v2b_package.py) without the fetched teacher: on a small v2b over the
synthetic stand-in teacher of tools/v2b_parity_fixture.py, the split plan (the package's graphs with the
deformable core between them) equals the PyTorch v2b forward for stride-4 and stride-8 proposals; build_models and
the ship script ship the same variant; the shipped threshold is one line in the exporter and in the test that
expects it, which tools/ship_detector.py rewrites and checks. The Node side (runtime = PyTorch) is
test/shipped/detector-v2b-parity and test/shipped/shipped-parity."""
import importlib
import re

import pytest
import torch

# tools/ is importable through pyproject.toml's pytest pythonpath, so the two scripts import directly.
import build_models
import ship_detector
from v2b_parity_fixture import SIZE, small_model, synthetic_teacher
from webdetr_tools.export.plan import run_plan
from webdetr_tools.ship.detector_reference import SHIPPED_DETECTOR
from webdetr_tools.ship.detector_v2b_package import (
    V2bForward,
    proposal_stride,
    round_weights_fp16,
    v2b_dims,
    v2b_plan,
)


def test_split_plan_equals_the_v2b_forward_at_both_proposal_strides():
    model, config = small_model()
    teacher = synthetic_teacher()
    image = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)) * 255
    for stride in (4, 8):
        logits, boxes = V2bForward(model, teacher, stride)(image)
        with torch.no_grad():
            out = run_plan(v2b_plan(model, teacher, v2b_dims(model, config), stride), {"image": image})
        assert out["pred_logits"].shape == (1, 20, 80)
        assert (out["pred_logits"] - logits).abs().max() < 1e-4
        assert (out["pred_boxes"] - boxes).abs().max() < 1e-5
        # one class per query: the teacher's logit + the head's residual, the other 79 at -12 + residual
        assert ((logits > -6).sum(-1) >= 1).all()


def test_round_weights_fp16_rounds_large_tensors_only():
    layer = torch.nn.Linear(8, 3)
    with torch.no_grad():
        layer.weight.fill_(0.1)
        layer.bias.fill_(0.1)
    round_weights_fp16(layer)
    assert layer.weight[0, 0].item() == torch.tensor(0.1).half().float().item()
    assert layer.bias[0].item() == torch.tensor(0.1).item()  # 3 elements: kept in fp32, as weights_to_fp16 does


def test_build_models_and_the_ship_script_ship_the_same_variant():
    assert build_models.DETECTOR == ship_detector.VARIANT == SHIPPED_DETECTOR
    assert ship_detector.CHECKPOINT.name == f"detector_{SHIPPED_DETECTOR}.pt"
    assert (build_models.V2B_CHECKPOINT.name, build_models.V3_CHECKPOINT.name) == ("detector_v2b.pt", "detector_v3.pt")
    assert ship_detector.THRESHOLD_SOURCE[0].name == f"detector_{SHIPPED_DETECTOR}_package.py"


def test_the_shipped_threshold_is_one_line_in_the_exporter_and_in_the_test_that_expects_it(tmp_path, monkeypatch):
    # ship_detector.set_threshold rewrites the shipped exporter's line and checks the test's, so they must agree.
    shipped = importlib.import_module(f"webdetr_tools.ship.detector_{SHIPPED_DETECTOR}_package").SCORE_THRESHOLD
    for path, pattern in (ship_detector.THRESHOLD_SOURCE, ship_detector.THRESHOLD_TEST):
        found = re.findall(pattern, path.read_text(), flags=re.M)
        assert len(found) == 1 and float(found[0]) == shipped, path
    # a threshold the test does not expect is refused before anything is rewritten
    source = tmp_path / "package.py"
    source.write_text("SCORE_THRESHOLD = 0.4\n")
    monkeypatch.setattr(ship_detector, "THRESHOLD_SOURCE", (source, ship_detector.THRESHOLD_SOURCE[1]))
    with pytest.raises(SystemExit, match="edit the test's expectation first"):
        ship_detector.set_threshold(shipped + 0.05)
    assert source.read_text() == "SCORE_THRESHOLD = 0.4\n"


def test_the_package_decodes_proposals_at_the_stride_the_checkpoint_trained_on():
    _, config = small_model()
    assert config["model"]["proposals"]["source"] == "stride8_cached" and proposal_stride(config) == 8
    config["model"]["proposals"]["source"] = "stride4_cache"
    assert proposal_stride(config) == 4
