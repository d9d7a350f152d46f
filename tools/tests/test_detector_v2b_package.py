"""Detector v2b package path (ship/detector_v2b_package.py) without the fetched teacher: on a small v2b over the
synthetic stand-in teacher of tools/v2b_parity_fixture.py, the split plan (the package's graphs with the deformable
core between them) equals the PyTorch v2b forward for stride-4 and stride-8 proposals, build_models ships v2b by
default, and the shipped threshold is one line in the exporter and in the test that expects it, which
tools/ship_detector_v2b.py rewrites and checks. The Node side
(runtime = PyTorch) is test/shipped/detector-v2b-parity and test/shipped/shipped-parity."""
import re

import pytest
import torch

# tools/ is importable through pyproject.toml's pytest pythonpath, so the two scripts import directly.
import build_models
import ship_detector_v2b
from v2b_parity_fixture import SIZE, small_model, synthetic_teacher
from webdetr_tools.export.plan import run_plan
from webdetr_tools.ship.detector_v2b_package import (
    SCORE_THRESHOLD,
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


def test_build_models_ships_v2b_by_default():
    assert build_models.DETECTOR == "v2b"
    assert build_models.V2B_CHECKPOINT.name == "detector_v2b.pt"


def test_the_shipped_threshold_is_one_line_in_the_exporter_and_in_the_test_that_expects_it(tmp_path, monkeypatch):
    # ship_detector_v2b.set_threshold rewrites the exporter's line and checks the test's, so they must agree.
    for path, pattern in (ship_detector_v2b.THRESHOLD_SOURCE, ship_detector_v2b.THRESHOLD_TEST):
        found = re.findall(pattern, path.read_text(), flags=re.M)
        assert len(found) == 1 and float(found[0]) == SCORE_THRESHOLD, path
    # a threshold the test does not expect is refused before anything is rewritten
    source = tmp_path / "package.py"
    source.write_text("SCORE_THRESHOLD = 0.4\n")
    monkeypatch.setattr(ship_detector_v2b, "THRESHOLD_SOURCE", (source, ship_detector_v2b.THRESHOLD_SOURCE[1]))
    with pytest.raises(SystemExit, match="edit the test's expectation first"):
        ship_detector_v2b.set_threshold(SCORE_THRESHOLD + 0.05)
    assert source.read_text() == "SCORE_THRESHOLD = 0.4\n"


def test_the_package_decodes_proposals_at_the_stride_the_checkpoint_trained_on():
    _, config = small_model()
    assert config["model"]["proposals"]["source"] == "stride8_cached" and proposal_stride(config) == 8
    config["model"]["proposals"]["source"] = "stride4_cache"
    assert proposal_stride(config) == 4
