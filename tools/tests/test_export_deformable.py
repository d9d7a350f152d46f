"""Exporter: variant detection, strict key errors, manifest content and file integrity on tiny checkpoints."""
import argparse
import json

import pytest
import torch

from webdetr_tools.checkpoint import save_checkpoint
from webdetr_tools.export.exporter import export_checkpoint
from webdetr_tools.export.manifest import verify_package_files
from webdetr_tools.export.skeleton import (
    CheckpointKeyError,
    build_deformable_skeleton,
    detect_deformable_config,
    load_strict,
)
from webdetr_tools.weights import synthetic_state_dict

TINY = dict(
    hidden=64,
    heads=2,
    enc_points=2,
    dec_points=2,
    encoder_layers=2,
    decoder_layers=2,
    queries=12,
    ffn=96,
    num_classes=5,
    backbone="resnet18",
    bbox_layers=3,
)


def tiny_checkpoint(path, levels=4, box_refine=False, two_stage=False):
    dims = dict(TINY, levels=levels, box_refine=box_refine, two_stage=two_stage)
    # the skeleton needs level_embed and input_proj shapes from a state dict: make one from a first skeleton
    probe = {"transformer.level_embed": torch.zeros(levels, dims["hidden"])}
    channels = [128, 256, 512] if levels > 1 else [512]
    for l in range(levels):
        c = channels[l] if l < len(channels) else None
        probe[f"input_proj.{l}.0.weight"] = torch.zeros(dims["hidden"], c or 512, 1 if c else 3, 1 if c else 3)
    shapes = {k: list(v.shape) for k, v in build_deformable_skeleton(dims, probe).state_dict().items()}
    args = {
        "hidden_dim": 64,
        "nheads": 2,
        "num_feature_levels": levels,
        "num_queries": 12,
        "enc_layers": 2,
        "dec_layers": 2,
        "with_box_refine": box_refine,
        "two_stage": two_stage,
        "backbone": "resnet18",
    }
    state_dict = synthetic_state_dict(shapes, seed=1)
    save_checkpoint(path, state_dict, args)
    return state_dict, args


@pytest.mark.parametrize("levels,refine,two_stage,variant", [(1, False, False, "plain"), (4, True, True, "two-stage")])
def test_tiny_export_writes_valid_package(tmp_path, levels, refine, two_stage, variant):
    checkpoint = tmp_path / "tiny.pth"
    tiny_checkpoint(checkpoint, levels, refine, two_stage)
    lines = []
    manifest = export_checkpoint(checkpoint, tmp_path / "pkg", height=64, width=96, progress=lines.append)
    assert lines[0].startswith(f"found deformable-detr {variant}")
    assert ("single-scale" in lines[0]) == (levels == 1)
    assert sum(line.startswith("[") for line in lines) == len(manifest["graphs"])
    verify_package_files(tmp_path / "pkg")
    assert manifest["model"]["variant"] == variant and manifest["model"]["singleScale"] == (levels == 1)
    assert manifest["architecture"]["numLevels"] == levels and manifest["architecture"]["numQueries"] == 12
    split = next(p for p in manifest["pipelines"] if p["kind"] == "split")
    kernels = [s for s in split["stages"] if s["kind"] == "msDeformAttn"]
    graphs = [s for s in split["stages"] if s["kind"] == "graph"]
    assert len(kernels) == 4 and len(graphs) == 5  # E + D kernel calls, E + D + 1 graph runs
    assert all(s["levels"] == manifest["architecture"]["levelShapes"] for s in kernels)
    assert [s["referenceDim"] for s in kernels] == ([2, 2, 4, 4] if two_stage else [2, 2, 2, 2])
    logits = manifest["tensors"]["pred_logits"]
    assert logits == {"dtype": "float32", "shape": [1, 12, 5]}
    assert len(manifest["output"]["classNames"]) == 5


def test_file_tampering_is_detected(tmp_path):
    checkpoint = tmp_path / "tiny.pth"
    tiny_checkpoint(checkpoint, 1)
    export_checkpoint(checkpoint, tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lambda _: None)
    head = tmp_path / "pkg" / "head.onnx"
    head.write_bytes(head.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        verify_package_files(tmp_path / "pkg")


def test_fp16_halves_weights(tmp_path):
    checkpoint = tmp_path / "tiny.pth"
    tiny_checkpoint(checkpoint, 1)
    full = export_checkpoint(
        checkpoint, tmp_path / "fp32", height=64, width=96, single_graph=False, progress=lambda _: None
    )
    half = export_checkpoint(
        checkpoint, tmp_path / "fp16", height=64, width=96, single_graph=False, fp16=True, progress=lambda _: None
    )

    def size(m):
        return sum(g["bytes"] for g in m["graphs"])

    assert all(g["weights"] == "fp16" for g in half["graphs"])
    assert size(half) < 0.56 * size(full)


def test_strict_loading_names_missing_and_unexpected_keys(tmp_path):
    state_dict, args = tiny_checkpoint(tmp_path / "tiny.pth", 4)
    dims = detect_deformable_config(state_dict, args)
    broken = dict(state_dict)
    broken.pop("transformer.encoder.layers.0.norm1.weight")
    broken["transformer.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError) as caught:
        load_strict(build_deformable_skeleton(dims, state_dict), broken)
    assert caught.value.missing == ["transformer.encoder.layers.0.norm1.weight"]
    assert caught.value.unexpected == ["transformer.extra.weight"]
    assert "transformer.extra.weight" in str(caught.value)


@pytest.mark.parametrize("variant", ["deformable_plain", "deformable_refine", "deformable_two_stage"])
def test_variant_detection_on_official_shapes(shared_dir, variant):
    reference = shared_dir / "reference" / variant
    shapes = json.loads((reference / "state_dict_shapes.json").read_text())
    state_dict = {k: torch.empty(v) for k, v in shapes.items()}
    args = json.loads((reference / "args.json").read_text())
    dims = detect_deformable_config(state_dict, argparse.Namespace(**args))
    assert (dims["box_refine"], dims["two_stage"]) == {
        "deformable_plain": (False, False),
        "deformable_refine": (True, False),
        "deformable_two_stage": (True, True),
    }[variant]
    assert (dims["hidden"], dims["heads"], dims["levels"], dims["enc_points"], dims["decoder_layers"]) == (
        256,
        8,
        4,
        4,
        6,
    )
    model = build_deformable_skeleton(dims, state_dict)
    assert set(model.state_dict()) == set(shapes)
    assert all(list(v.shape) == shapes[k] for k, v in model.state_dict().items())


def test_variant_override_fills_missing_args_and_rejects_contradictions(tmp_path):
    state_dict, args = tiny_checkpoint(tmp_path / "refine.pth", 4, box_refine=True)
    # Args that lost their variant flags: the override (as `--variant box-refine` sets it) names the variant.
    bare = {k: v for k, v in args.items() if k not in ("with_box_refine", "two_stage")}
    save_checkpoint(tmp_path / "bare.pth", state_dict, bare)
    manifest = export_checkpoint(
        tmp_path / "bare.pth",
        tmp_path / "pkg",
        height=64,
        width=96,
        single_graph=False,
        overrides={"with_box_refine": True, "two_stage": False},
        progress=lambda line: None,
    )
    assert manifest["model"]["variant"] == "box-refine"
    # `--variant plain` on refine weights must not silently export refine.
    with pytest.raises(ValueError, match="with_box_refine=False but the checkpoint has the weights"):
        export_checkpoint(
            tmp_path / "refine.pth",
            tmp_path / "pkg2",
            height=64,
            width=96,
            single_graph=False,
            overrides={"with_box_refine": False, "two_stage": False},
            progress=lambda line: None,
        )
    # A plain checkpoint forced to box-refine lacks the refinement heads: strict loading names them.
    plain_sd, plain_args = tiny_checkpoint(tmp_path / "plain.pth", 4)
    with pytest.raises(CheckpointKeyError, match="transformer.decoder.bbox_embed"):
        export_checkpoint(
            tmp_path / "plain.pth",
            tmp_path / "pkg3",
            height=64,
            width=96,
            single_graph=False,
            overrides={"with_box_refine": True, "two_stage": False},
            progress=lambda line: None,
        )
