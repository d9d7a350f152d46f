"""Hugging Face RT-DETR checkpoints (RTDetrForObjectDetection / RTDetrV2ForObjectDetection) through tools/export.py
(the `npm run export` entry). The fixture tools/tests/fixtures/hf_rtdetr holds small synthetic checkpoints (as keys
and shapes + a seed) and what the transformers modeling code computed on them (tools/make_hf_rtdetr_fixture.py);
here each is rebuilt, imported (keys mapped back to the official layout, q/k/v fused into in_proj) and our PyTorch
model must give the Hugging Face logits / boxes and post-processed detections; the CLI writes a valid package with
the preprocessor's size and pixel transform. Node parity of the exported packages: test/export/export-hf-rtdetr.test.ts.
"""
import json

import numpy as np
import pytest
import torch

from export import main as export_main  # tools/export.py
from webdetr_tools.export import hf_rtdetr_fixture as fixture
from webdetr_tools.export.huggingface import HFCheckpointError
from webdetr_tools.export.huggingface_rtdetr import (
    hf_to_official,
    is_huggingface_rtdetr,
    load_hf_rtdetr,
    official_to_hf,
    post_process_object_detection,
)
from webdetr_tools.rtdetr.synthetic import synthetic_checkpoint

CASES, OUTPUTS = fixture.load_fixture()
TOLERANCE = {"logits": 1e-3, "boxes": 1e-4}


def checkpoint(name, directory):
    case = CASES["cases"][name]
    return fixture.write_case(case, case["shapes"], directory / "checkpoint"), case


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_hf_checkpoint_gives_the_hugging_face_outputs(name, tmp_path):
    path, case = checkpoint(name, tmp_path)
    assert is_huggingface_rtdetr(path)
    model, cfg, config, _, _ = load_hf_rtdetr(path)
    assert cfg["version"] == ("v2" if config["model_type"] == "rt_detr_v2" else "v1")
    assert cfg["num_points"] == [config["decoder_n_points"]] * 3
    assert cfg["cross_attn_method"] == config.get("decoder_method", "default")
    with torch.no_grad():
        logits, boxes = model(fixture.case_image(case))
    want_logits, want_boxes = OUTPUTS[f"{name}__logits"], OUTPUTS[f"{name}__pred_boxes"]
    diff = {"logits": np.abs(logits.numpy() - want_logits).max(), "boxes": np.abs(boxes.numpy() - want_boxes).max()}
    print(f"{name}: max |logits| {diff['logits']:.2e}, max |boxes| {diff['boxes']:.2e} vs the Hugging Face code")
    assert diff["logits"] <= TOLERANCE["logits"] and diff["boxes"] <= TOLERANCE["boxes"]
    # RTDetrImageProcessor.post_process_object_detection: top queries x classes, boxes in the picture's pixels
    post = post_process_object_detection(logits, boxes, [tuple(CASES["target_size"])])[0]
    assert post["scores"].shape[0] == case["config"]["num_queries"]
    assert np.array_equal(post["labels"].numpy(), OUTPUTS[f"{name}__labels"])
    assert np.abs(post["scores"].numpy() - OUTPUTS[f"{name}__scores"]).max() <= 1e-6
    assert np.abs(post["boxes"].numpy() - OUTPUTS[f"{name}__boxes"]).max() <= 1e-3


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_keys_round_trip_and_qkv_split(version):
    state, cfg = synthetic_checkpoint(version, seed=2, num_points=[4, 4, 4])
    hf = official_to_hf(state, version)
    fused = state["decoder.decoder.layers.1.self_attn.in_proj_weight"]
    c = cfg["hidden"]
    assert torch.equal(hf["model.decoder.layers.1.self_attn.k_proj.weight"], fused[c : 2 * c])
    assert torch.equal(hf["class_embed.0.weight"], hf["model.decoder.class_embed.0.weight"])
    back = hf_to_official(hf, version)
    want = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert set(back) == set(want) and all(torch.equal(back[k], want[k]) for k in want)
    # tied heads may be saved once, under either name; derived buffers are ignored; unknown keys are errors
    only_top = {k: v for k, v in hf.items() if not k.startswith("model.decoder.class_embed.")}
    only_top["model.anchors"] = torch.zeros(1)
    assert set(hf_to_official(only_top, version)) == set(want)
    with pytest.raises(HFCheckpointError, match="not understood"):
        hf_to_official({**hf, "model.decoder.mystery.weight": torch.zeros(1)}, version)


def test_the_fixture_keys_are_the_conversion_scripts_names():
    """Every key of the transformers model (recorded in the fixture) maps to an official key, and the official
    synthetic checkpoint renamed by the conversion scripts' rules gives exactly the transformers model's keys."""
    for name in ("v1", "v2"):
        case = CASES["cases"][name]
        hf_keys = {k for k, _ in case["shapes"] if not k.endswith("num_batches_tracked")}
        version = "v2" if name == "v2" else "v1"
        state, _ = synthetic_checkpoint(version, seed=1, depth_mult=1.0, num_points=[3 if name == "v2" else 4] * 3)
        renamed = set(official_to_hf(state, version))
        if name == "v1":  # transformers' RTDetrForObjectDetection has no top-level heads
            renamed = {k for k in renamed if not k.startswith(("class_embed.", "bbox_embed."))}
        assert renamed == hf_keys


def test_export_cli_writes_an_rtdetr_package_from_hf(tmp_path):
    path, _ = checkpoint("v2-discrete", tmp_path)
    out = tmp_path / "pkg"
    export_main([str(path / "pytorch_model.bin"), "--out", str(out), "--no-single-graph"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "rt-detr" and manifest["model"]["variant"] == "v2"
    assert manifest["model"]["source"]["format"] == "huggingface"
    assert manifest["input"]["sizePolicy"] == {"kind": "fixed", "height": 64, "width": 64}  # preprocessor_config
    assert (manifest["input"]["mean"], manifest["input"]["std"], manifest["input"]["pixelScale"]) == (
        [0.0] * 3,
        [1.0] * 3,
        255,
    )
    assert manifest["output"]["classNames"] == fixture.LABELS
    assert manifest["output"]["topK"] == 30  # num_queries, as post_process_object_detection
    kernels = [s for s in manifest["pipelines"][0]["stages"] if s["kind"] == "msDeformAttnRt"]
    assert len(kernels) == 2 and kernels[0]["points"] == [2, 2, 2] and kernels[0]["method"] == "discrete"
    # transformers' discrete sampling clamps differently from the official code on non-square maps: refused
    with pytest.raises(HFCheckpointError, match="square"):
        export_main(
            [str(path), "--out", str(tmp_path / "wide"), "--height", "64", "--width", "96", "--no-single-graph"]
        )


def test_unsupported_settings_are_errors(tmp_path):
    path, case = checkpoint("v1", tmp_path)
    config = case["config"]
    for change in (
        {"normalize_before": True},
        {"decoder_activation_function": "gelu"},
        {"decoder_attention_heads": 8},
        {"eval_size": [64, 64]},
        {"model_type": "rt_detr_v2"},  # v2 needs its n_points_scale buffers
    ):
        (path / "config.json").write_text(json.dumps({**config, **change}))
        with pytest.raises(ValueError):
            load_hf_rtdetr(path)
