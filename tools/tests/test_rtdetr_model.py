"""Our RT-DETR module tree (tools/webdetr_tools/rtdetr) against the official code of a lyuwenyu/RT-DETR snapshot
(skipped without one): the official state dict loads strictly and the outputs are equal."""
import pytest
import torch

from webdetr_tools.rtdetr.config import detect_config
from webdetr_tools.rtdetr.model import RTDETR
from webdetr_tools.rtdetr.official import build_official_model, official_or_skip
from webdetr_tools.rtdetr.synthetic import synthetic_checkpoint

UNSAID = ["dec_heads", "enc_heads", "num_points", "cross_attn_method", "queries"]


@pytest.mark.parametrize(
    "version,extra",
    [("v2", {}), ("v2", {"cross_attn_method": "discrete"}), ("v1", {})],
    ids=["v2", "v2-discrete", "v1"],
)
def test_ours_equals_the_official_code(version, extra):
    ns = official_or_skip(version)
    state_dict, cfg = synthetic_checkpoint(version, seed=3, **extra)
    official = build_official_model(ns, cfg)
    official.load_state_dict(state_dict, strict=True)
    ours = RTDETR(detect_config(state_dict, {k: cfg[k] for k in UNSAID})).eval()
    ours.load_state_dict(state_dict, strict=True)
    image = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want_logits, want_boxes = official(image)
        logits, boxes = ours(image)
    assert (logits - want_logits).abs().max().item() <= 1e-6
    assert (boxes - want_boxes).abs().max().item() <= 1e-6


def test_config_read_back_from_the_state_dict():
    state_dict, cfg = synthetic_checkpoint("v2", seed=0)
    got = detect_config(state_dict, {"dec_heads": 4, "enc_heads": 4, "num_points": [4, 2, 3], "queries": 30})
    for key in ["version", "depth", "in_channels", "hidden", "enc_ffn", "dec_ffn", "dec_layers", "num_classes"]:
        assert got[key] == cfg[key], key
    assert got["depth_mult"] == pytest.approx(cfg["depth_mult"]) and got["expansion"] == cfg["expansion"]
    with pytest.raises(ValueError, match="heads"):
        detect_config(state_dict, {"dec_heads": 8})
