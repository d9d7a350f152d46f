"""UP-DETR exporter on tiny checkpoints: variant detection, manifest content (chained pipelines, symbolic patch
count, softmax + no-object), and the split plan / single graph against the reference model for 1..K patches."""
import onnx
import pytest
import torch

from webdetr_tools.checkpoint import load_checkpoint, save_checkpoint
from webdetr_tools.config import ModelConfig
from webdetr_tools.export.exporter import export_checkpoint
from webdetr_tools.export.manifest import verify_package_files
from webdetr_tools.export.plan import SingleGraph, run_plan
from webdetr_tools.export.updetr_export import updetr_export_parts
from webdetr_tools.models import UPDETR, model_from_checkpoint
from webdetr_tools.weights import synthetic_state_dict

# 12 queries in 3 groups of 4 (the official mask loop covers 4 blocks of 4 >= 12 queries)
TINY = dict(
    family="up-detr",
    hidden_dim=32,
    nheads=2,
    enc_layers=1,
    dec_layers=1,
    dim_feedforward=48,
    num_queries=12,
    pre_norm=True,
    backbone="resnet50",
)


def tiny_checkpoint(path, variant):
    if variant == "pretrain":
        config = ModelConfig(variant="pretrain", num_classes=2, num_patches=3, feature_recon=True, **TINY)
    else:
        config = ModelConfig(variant="detection", num_classes=5, **TINY)
    shapes = {k: list(v.shape) for k, v in UPDETR(config).state_dict().items()}
    args = {
        "hidden_dim": 32,
        "nheads": 2,
        "enc_layers": 1,
        "dec_layers": 1,
        "dim_feedforward": 48,
        "num_queries": 12,
        "pre_norm": True,
        "backbone": "resnet50",
    }
    if variant == "pretrain":
        args.update(num_patches=3, feature_recon=True)
    save_checkpoint(path, synthetic_state_dict(shapes, seed=1), args)
    return config


def test_pretrain_package_manifest(tmp_path):
    checkpoint = tmp_path / "updetr.pth"
    tiny_checkpoint(checkpoint, "pretrain")
    lines = []
    manifest = export_checkpoint(
        checkpoint, tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lines.append
    )
    assert lines[0].startswith("found up-detr pretrain") and "3 patches x 4" in lines[0]
    verify_package_files(tmp_path / "pkg")
    assert manifest["model"]["family"] == "up-detr" and manifest["model"]["variant"] == "pretrain"
    assert manifest["input"]["queryPatch"] == {"height": 128, "width": 128, "maxPatches": 3, "queriesPerPatch": 4}
    output = manifest["output"]
    assert output["classActivation"] == "softmax" and output["noObjectClass"] == 2
    assert output["classNames"] == ["N/A", "patch"]
    assert manifest["architecture"]["preNorm"] is True and manifest["architecture"]["numQueries"] == 12
    image, patches = manifest["pipelines"]
    assert (image["name"], image["inputs"], image["outputs"]) == ("image", ["image"], ["memory", "pos"])
    assert patches["name"] == "patches" and patches["after"] == "image" and patches["inputs"] == ["patches"]
    assert [s["graph"] for s in patches["stages"]] == ["patch_queries", "patch_decoder"]
    tensors = manifest["tensors"]
    assert tensors["patches"]["shape"] == [1, "patches", 3, 128, 128]
    assert tensors["pred_logits"]["shape"] == [1, "patches*4", 3]
    assert tensors["pred_boxes"]["shape"] == [1, "patches*4", 4]
    assert tensors["memory"]["shape"] == [6, 1, 32]  # C5 of 64x96 is 2x3
    graph = onnx.load(str(tmp_path / "pkg" / "patch_queries.onnx")).graph
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_param == "patches"  # K is a dynamic axis


def test_detection_package_manifest(tmp_path):
    checkpoint = tmp_path / "detr.pth"
    tiny_checkpoint(checkpoint, "detection")
    lines = []
    manifest = export_checkpoint(
        checkpoint, tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lines.append
    )
    assert lines[0].startswith("found up-detr detection")
    verify_package_files(tmp_path / "pkg")
    assert manifest["model"]["variant"] == "detection" and "queryPatch" not in manifest["input"]
    assert manifest["output"]["classActivation"] == "softmax" and manifest["output"]["noObjectClass"] == 5
    assert [p["name"] for p in manifest["pipelines"]] == ["detect"]
    assert [s["graph"] for s in manifest["pipelines"][0]["stages"]] == ["image_encoder", "detection_decoder"]
    assert manifest["tensors"]["pred_logits"]["shape"] == [1, 12, 6]


@pytest.mark.parametrize("variant", ["pretrain", "detection"])
def test_plan_matches_reference_model(tmp_path, variant):
    torch.manual_seed(0)
    checkpoint = tmp_path / "ckpt.pth"
    tiny_checkpoint(checkpoint, variant)
    state_dict, args = load_checkpoint(checkpoint)
    model, _ = model_from_checkpoint(state_dict, args)
    plan, feeds, _, _ = updetr_export_parts(state_dict, args, 64, 96)
    image = torch.randn(1, 3, 64, 96)
    patch_counts = [1, 3] if variant == "pretrain" else [None]
    for k in patch_counts:
        feeds = {"image": image} if k is None else {"image": image, "patches": torch.randn(1, k, 3, 128, 128)}
        with torch.no_grad():
            expected = model(image, feeds.get("patches"))
            tensors = run_plan(plan, feeds)
            single = SingleGraph(plan, list(feeds), ["pred_logits", "pred_boxes"])(*feeds.values())
        for got in ((tensors["pred_logits"], tensors["pred_boxes"]), single):
            assert got[0].shape == expected["pred_logits"].shape
            assert torch.allclose(got[0], expected["pred_logits"], atol=1e-5, rtol=0)
            assert torch.allclose(got[1], expected["pred_boxes"], atol=1e-6, rtol=0)
