"""Shorter-side size policy: the official size rule, dynamic-shape plans equal to the official code (our reference
model) at several aspect ratios, Hugging Face checkpoints with their preprocessor's rule, and the errors for what is
not supported. The ONNX graphs of such packages run in Node in test/export/export-aspect.test.ts."""
import importlib
import json

import numpy as np
import pytest
import torch

from webdetr_tools.export import hf_fixture
from webdetr_tools.export.deformable_segments import deformable_plan
from webdetr_tools.export.exporter import deformable_skeleton, export_checkpoint
from webdetr_tools.export.features import deformable_features
from webdetr_tools.export.huggingface import load_huggingface_checkpoint
from webdetr_tools.export.plan import LevelRule, run_plan
from webdetr_tools.export.size_policy import (
    SizePolicyError,
    check_level_strides,
    level_strides,
    official_size,
    resolve_size_policy,
)
from webdetr_tools.models import model_from_checkpoint
from webdetr_tools.models.inputs import eval_size
from webdetr_tools.weights import synthetic_state_dict

CASES, OUTPUTS = hf_fixture.load_fixture()
export_cli = importlib.import_module("export")  # tools/export.py, what `npm run export` runs


def test_official_size_rule():
    # the reference model's eval_size (the official get_size_with_aspect_ratio) on many sizes and policies
    rng = np.random.RandomState(0)
    for _ in range(2000):
        width, height = (int(v) for v in rng.randint(1, 3000, size=2))
        shortest = int(rng.choice([64, 480, 800]))
        longest = int(rng.choice([107, 1000, 1333]))
        assert official_size(width, height, shortest, longest) == eval_size(width, height, shortest, longest)
    assert official_size(640, 480, 800, 1333) == (1066, 800)
    assert official_size(60, 180, 64, 107) == (36, 108)  # the longer side is truncated, may exceed longest by 1
    assert official_size(800, 800, 800, 1333) == (800, 800)


def test_unrounded_longer_side_is_recent_transformers_rule():
    # transformers' get_size_with_aspect_ratio (recent): when longest caps the size, the longer side comes from the
    # unrounded shorter size raw = longest * shorter / longer; it never exceeds longest
    def transformers_size(width, height, shortest, longest):
        raw, size = None, shortest
        small, large = float(min(width, height)), float(max(width, height))
        if large / small * size > longest:
            raw = longest * small / large
            size = int(round(raw))
        if (height <= width and height == size) or (width <= height and width == size):
            return width, height
        if width < height:
            return size, int((raw if raw is not None else size) * height / width)
        return int((raw if raw is not None else size) * width / height), size

    rng = np.random.RandomState(1)
    for _ in range(2000):
        width, height = (int(v) for v in rng.randint(1, 3000, size=2))
        shortest, longest = int(rng.choice([64, 480, 800])), int(rng.choice([107, 1000, 1333]))
        assert official_size(width, height, shortest, longest, "unrounded") == transformers_size(
            width, height, shortest, longest
        )
    assert official_size(60, 180, 64, 107, "unrounded") == (36, 107)  # official: (36, 108)
    assert official_size(640, 480, 800, 1333, "unrounded") == (1066, 800)  # no cap: both rules agree
    with pytest.raises(SizePolicyError, match="longerSide must be one of"):
        official_size(60, 180, 64, 107, "nearest")


def test_resolve_size_policy():
    assert resolve_size_policy(None) == {"kind": "fixed"}
    policy = {"kind": "shorter-side", "shortest": 800, "longest": 1333}
    assert resolve_size_policy(policy) == policy
    preprocess = {"size": {"shortest_edge": 480, "longest_edge": 640}}
    hf = {"kind": "shorter-side", "shortest": 480, "longest": 640, "longerSide": "unrounded"}
    assert resolve_size_policy("preprocessor", preprocess) == hf
    assert resolve_size_policy({"kind": "preprocessor", "longerSide": "official"}, preprocess) == {
        "kind": "shorter-side",
        "shortest": 480,
        "longest": 640,
    }
    with pytest.raises(SizePolicyError, match="longerSide must be one of"):
        resolve_size_policy({**policy, "longerSide": "nearest"})
    with pytest.raises(SizePolicyError, match="needs a Hugging Face checkpoint"):
        resolve_size_policy("preprocessor")
    with pytest.raises(SizePolicyError, match="not a shortest_edge"):
        resolve_size_policy("preprocessor", {"size": {"height": 800, "width": 800}})
    with pytest.raises(SizePolicyError, match="shortest <= longest"):
        resolve_size_policy({"kind": "shorter-side", "shortest": 800, "longest": 600})


def test_level_strides():
    assert level_strides(4) == [8, 16, 32, 64]
    assert level_strides(1) == [32]
    assert LevelRule("image", [8, 16, 32, 64]).shapes({"image": torch.zeros(1, 3, 37, 53)}) == [
        (5, 7),
        (3, 4),
        (2, 2),
        (1, 1),
    ]
    with pytest.raises(SizePolicyError, match="cannot run with dynamic shapes"):
        check_level_strides(lambda h, w: [torch.zeros(1, 1, h // 8, w // 8)], [8])


@pytest.fixture(scope="module")
def official(shared_dir):
    folder = shared_dir / "reference" / "deformable_two_stage"
    shapes = json.loads((folder / "state_dict_shapes.json").read_text())
    args = json.loads((folder / "args.json").read_text())
    state = synthetic_state_dict(shapes)
    return state, args, model_from_checkpoint(state, args)[0].eval()


def test_dynamic_plan_equals_official_at_any_aspect_ratio(official):
    """One plan (traced at one size in the export) at three other sizes (portrait, a 1:3 strip, odd sides);
    two-stage + box refine, the variant that computes the most from the level shapes (reference points, proposals,
    level shapes of every kernel call)."""
    state, args, model = official
    skeleton, dims = deformable_skeleton(state, args, 128, 170, dynamic=True)
    assert dims["level_strides"] == [8, 16, 32, 64]
    plan = deformable_plan(skeleton, dims, deformable_features)
    torch.manual_seed(0)
    # two-stage takes its 300 queries among the tokens, so every size has at least 300
    for height, width in [(170, 128), (227, 76), (130, 173)]:
        image = torch.randn(1, 3, height, width)
        with torch.no_grad():
            tensors, expected = run_plan(plan, {"image": image}), model(image)
        logits = (tensors["pred_logits"] - expected["pred_logits"]).abs().max().item()
        boxes = (tensors["pred_boxes"] - expected["pred_boxes"]).abs().max().item()
        print(f"{height}x{width}: max |logits| {logits:.2e}, max |boxes| {boxes:.2e}")
        assert logits <= 1e-4 and boxes <= 1e-5


def test_unsupported_size_policies_say_so(official, tmp_path):
    state, args, _ = official
    from webdetr_tools.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "c.pth", state, args)
    policy = {"kind": "shorter-side", "shortest": 800, "longest": 1333}
    with pytest.raises(SizePolicyError, match="split graphs only"):
        export_checkpoint(tmp_path / "c.pth", tmp_path / "pkg", size_policy=policy, progress=lambda _: None)
    with pytest.raises(SizePolicyError, match="Deformable-DETR only"):
        export_checkpoint(
            tmp_path / "c.pth",
            tmp_path / "pkg",
            size_policy=policy,
            single_graph=False,
            family="up-detr",
            progress=lambda _: None,
        )


def test_hf_checkpoint_with_its_preprocessor_size(tmp_path, capsys):
    """A Hugging Face checkpoint exported with --size-policy preprocessor: the manifest has its size rule, and the
    dynamic plan equals the Hugging Face outputs recorded on the case's input."""
    name = "box-refine"
    case = CASES["cases"][name]
    folder = hf_fixture.write_case(case, case["shapes"], tmp_path / name)
    # through `npm run export`'s script: no --no-single-graph needed, shorter-side packages are split-only
    export_cli.main([str(folder), "--out", str(tmp_path / "pkg"), "--size-policy", "preprocessor"])
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    lines = capsys.readouterr().out.splitlines()
    assert [p["name"] for p in manifest["pipelines"]] == ["detect"]
    size = hf_fixture.PREPROCESSOR["size"]
    assert manifest["input"]["sizePolicy"] == {
        "kind": "shorter-side",
        "shortest": size["shortest_edge"],
        "longest": size["longest_edge"],
        "longerSide": "unrounded",
    }
    assert manifest["input"]["resize"] == "bilinear-keep-aspect"
    assert manifest["tensors"]["image"]["shape"] == [1, 3, "height", "width"]
    assert manifest["pipelines"][0]["stages"][1]["levels"]["from"] == "image"
    assert any("resizes the shorter side to 800" in line for line in lines)
    checkpoint = load_huggingface_checkpoint(folder)
    model, dims = deformable_skeleton(
        checkpoint.state_dict, checkpoint.args, 96, 128, backbone_spec=checkpoint.backbone_spec, dynamic=True
    )
    with torch.no_grad():
        tensors = run_plan(deformable_plan(model, dims, deformable_features), {"image": hf_fixture.case_image(case)})
    logits = np.abs(tensors["pred_logits"].numpy() - OUTPUTS[f"{name}__logits"]).max()
    boxes = np.abs(tensors["pred_boxes"].numpy() - OUTPUTS[f"{name}__pred_boxes"]).max()
    print(f"{name} dynamic plan: max |logits| {logits:.2e}, max |boxes| {boxes:.2e}")
    assert logits <= 1e-4 and boxes <= 1e-5
