"""Checkpoint -> model package: detect the variant, build the weight skeleton, export, write the manifest."""
import time
from pathlib import Path

import torch

from ..checkpoint import load_checkpoint
from .deformable_segments import deformable_plan
from .features import deformable_features
from .huggingface import HFKeyMismatchError, is_huggingface_checkpoint, load_huggingface_checkpoint
from .manifest import file_digest
from .package import IMAGENET_MEAN, IMAGENET_STD, write_package
from .size_policy import SizePolicyError, check_level_strides, level_strides, resolve_size_policy
from .skeleton import CheckpointKeyError, build_deformable_skeleton, detect_deformable_config, load_strict
from .updetr_export import updetr_export_parts

EXPORTER = "webdetr_tools.export 1"

COCO_91 = [
    "N/A",
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "N/A",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "N/A",
    "backpack",
    "umbrella",
    "N/A",
    "N/A",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "N/A",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "N/A",
    "dining table",
    "N/A",
    "N/A",
    "toilet",
    "N/A",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "N/A",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]


def detect_family(state_dict, args, family=None):
    if family:
        return family
    if "transformer.level_embed" in state_dict:
        return "deformable-detr"
    if "query_embed.weight" in state_dict and "input_proj.weight" in state_dict:
        return "up-detr"
    raise ValueError("cannot tell the model family from the checkpoint keys; pass --family")


def deformable_variant(dims):
    return "two-stage" if dims["two_stage"] else "box-refine" if dims["box_refine"] else "plain"


def deformable_skeleton(state_dict, args, height, width, overrides=None, backbone_spec=None, dynamic=False):
    """(weights loaded strictly into the official-named skeleton, dims incl. level_shapes at height x width); what
    deformable_plan(model, dims, deformable_features) cuts into the package's graphs. dynamic: graphs for any input
    size (a shorter-side size policy), dims["level_strides"] checked against the backbone on odd sizes."""
    dims = detect_deformable_config(state_dict, args, overrides)
    if backbone_spec is not None:
        dims["backbone_spec"] = backbone_spec
    model = load_strict(build_deformable_skeleton(dims, state_dict), state_dict)
    with torch.no_grad():
        srcs, _ = deformable_features(model, torch.zeros(1, 3, height, width))
    dims["level_shapes"] = [tuple(int(v) for v in s.shape[2:]) for s in srcs]
    if dynamic:
        dims["dynamic"] = True
        dims["level_strides"] = level_strides(dims["levels"])
        check_level_strides(lambda h, w: deformable_features(model, torch.zeros(1, 3, h, w))[0], dims["level_strides"])
    return model, dims


def export_checkpoint(
    checkpoint,
    out_dir,
    height=384,
    width=512,
    fp16=False,
    split=True,
    single_graph=True,
    class_names=None,
    family=None,
    overrides=None,
    progress=print,
    size_policy=None,
):
    """Export a checkpoint (path) to a package directory; returns the manifest. The checkpoint is an official .pth
    or a Hugging Face Deformable-DETR (a directory with config.json, or its model.safetensors / pytorch_model.bin /
    config.json), told apart by is_huggingface_checkpoint.

    size_policy: None for a fixed height x width input (pictures stretched to it); {"kind": "shorter-side",
    "shortest": S, "longest": L} for the official resize (shorter side S, longer <= L, aspect kept) with graphs that
    run at each picture's own size; or "preprocessor": a Hugging Face checkpoint's preprocessor_config.json size
    (shortest_edge / longest_edge). Deformable-DETR only."""
    started = time.time()
    hf = None
    if is_huggingface_checkpoint(checkpoint):
        if family not in (None, "deformable-detr"):
            raise ValueError(f"a Hugging Face checkpoint is a Deformable-DETR, not {family!r}")
        hf = load_huggingface_checkpoint(checkpoint)
        state_dict, args, family = hf.state_dict, hf.args, "deformable-detr"
        progress(
            f"read Hugging Face checkpoint {hf.source['weights']} ({hf.source['kind']}): {len(state_dict)} "
            "official keys"
        )
    else:
        state_dict, args = load_checkpoint(checkpoint)
        family = detect_family(state_dict, args, family)
    policy = resolve_size_policy(size_policy, hf.preprocess if hf is not None else None)
    dynamic = policy["kind"] == "shorter-side"
    if dynamic and family != "deformable-detr":
        raise SizePolicyError(
            f"a {policy['kind']} size policy is supported for Deformable-DETR only; export {family} with a fixed "
            "--height/--width"
        )
    if dynamic and single_graph:
        raise SizePolicyError(
            "a shorter-side size policy exports split graphs only (the single GridSample graph has fixed level "
            "shapes); pass --no-single-graph"
        )
    if dynamic:
        # the example input the graphs are traced at: a 4:3 picture under the policy (any size works)
        height, width = policy["shortest"], min(policy["longest"], policy["shortest"] * 4 // 3)
    if family == "up-detr":
        return _export_updetr(
            checkpoint,
            state_dict,
            args,
            out_dir,
            height,
            width,
            fp16,
            split,
            single_graph,
            class_names,
            overrides,
            progress,
            started,
        )
    if family != "deformable-detr":
        raise ValueError(f"unknown model family {family!r}")
    try:
        model, dims = deformable_skeleton(
            state_dict, args, height, width, overrides, hf.backbone_spec if hf is not None else None, dynamic
        )
    except CheckpointKeyError as error:
        if hf is None:
            raise
        raise HFKeyMismatchError(hf, error.missing, error.unexpected) from error
    image = torch.zeros(1, 3, height, width)
    variant = deformable_variant(dims)
    progress(
        f"found deformable-detr {variant}{' single-scale' if dims['levels'] == 1 else ''}: hidden "
        f"{dims['hidden']}, heads {dims['heads']}, levels {dims['levels']} {dims['level_shapes']}, points "
        f"{dims['enc_points']}/{dims['dec_points']}, layers {dims['encoder_layers']}+{dims['decoder_layers']}, "
        f"queries {dims['queries']}, classes {dims['num_classes']}, backbone {dims['backbone']}, "
        + (
            f"input shorter side {policy['shortest']}, longer <= {policy['longest']} (dynamic shapes, level strides "
            f"{dims['level_strides']})"
            if dynamic
            else f"input {height}x{width}"
        )
    )
    names = class_names or (
        hf.class_names
        if hf is not None
        else COCO_91
        if dims["num_classes"] == 91
        else [f"class_{i}" for i in range(dims["num_classes"])]
    )
    if len(names) != dims["num_classes"]:
        raise ValueError(f"{len(names)} class names for {dims['num_classes']} classes")
    mean, std, pixel_scale = IMAGENET_MEAN, IMAGENET_STD, 255
    if hf is None:
        source = {"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint), "format": "official"}
    else:
        weights = Path(hf.source["weights"])
        source = {"checkpoint": weights.name, "sha256": file_digest(weights), "format": "huggingface"}
        mean, std, pixel_scale = hf.preprocess["mean"], hf.preprocess["std"], hf.preprocess["pixel_scale"]
        size = hf.preprocess["size"]
        progress(
            f"preprocessor: mean {mean}, std {std}, 1/{pixel_scale}; size rule {size}: "
            + (
                f"the package resizes the shorter side to {policy['shortest']}, the longer to <= {policy['longest']}"
                if dynamic
                else f"not applied, the package takes a fixed {height}x{width} input (export with --size-policy "
                "preprocessor to apply it)"
            )
        )
    description = {
        "model": {
            "family": "deformable-detr",
            "variant": variant,
            "singleScale": dims["levels"] == 1,
            "source": source,
            "exporter": EXPORTER,
        },
        "input": {
            "sizePolicy": policy if dynamic else {"kind": "fixed", "height": height, "width": width},
            "resize": "bilinear-keep-aspect" if dynamic else "bilinear-stretch",
            "mean": mean,
            "std": std,
            "pixelScale": pixel_scale,
            "layout": "NCHW",
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": names,
            "boxFormat": "cxcywh-normalized",
            "topK": 100,
        },
        "architecture": {
            "hiddenDim": dims["hidden"],
            "numQueries": dims["queries"],
            "encoderLayers": dims["encoder_layers"],
            "decoderLayers": dims["decoder_layers"],
            "numHeads": dims["heads"],
            "numLevels": dims["levels"],
            "encoderPoints": dims["enc_points"],
            "decoderPoints": dims["dec_points"],
            **({"levelStrides": dims["level_strides"]} if dynamic else {}),
            "levelShapes": [list(s) for s in dims["level_shapes"]],
            "ffnDim": dims["ffn"],
            "backbone": dims["backbone"],
        },
    }
    plan = deformable_plan(model, dims, deformable_features)
    manifest = write_package(
        plan,
        {"image": image},
        out_dir,
        description,
        split=split,
        single_graph=single_graph,
        fp16=fp16,
        progress=progress,
    )
    total = sum(g["bytes"] for g in manifest["graphs"])
    progress(
        f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {total / 1e6:.1f} MB, "
        f"{time.time() - started:.1f} s"
    )
    return manifest


def _export_updetr(
    checkpoint,
    state_dict,
    args,
    out_dir,
    height,
    width,
    fp16,
    split,
    single_graph,
    class_names,
    overrides,
    progress,
    started,
):
    plan, feeds, description, summary = updetr_export_parts(
        state_dict, args, height, width, class_names, overrides, coco_names=COCO_91
    )
    progress(summary)
    description["model"].update(
        source={"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint), "format": "official"},
        exporter=EXPORTER,
    )
    manifest = write_package(
        plan, feeds, out_dir, description, split=split, single_graph=single_graph, fp16=fp16, progress=progress
    )
    total = sum(g["bytes"] for g in manifest["graphs"])
    progress(
        f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {total / 1e6:.1f} MB, "
        f"{time.time() - started:.1f} s"
    )
    return manifest
