"""UP-DETR checkpoint -> plan, example feeds and manifest description (the exporter adds source + writes files).

Softmax classification with the last logit = no-object (DETR layout). Pretrain packages declare
input.queryPatch (patch size, at most num_patches patches, num_queries // num_patches queries each).
"""
import torch

from ..models import model_from_checkpoint
from .package import IMAGENET_MEAN, IMAGENET_STD
from .updetr_segments import updetr_plan

PATCH_SIZE = 128  # the official pretraining crops query patches to 128x128


def updetr_export_parts(state_dict, args, height, width, class_names=None, overrides=None, coco_names=None):
    """-> (plan, feeds, description without model.source/exporter, one-line summary)."""
    model, config = model_from_checkpoint(state_dict, args, overrides)
    pretrain = config.variant == "pretrain"
    if class_names is None:
        if pretrain and config.num_classes == 2:
            class_names = ["N/A", "patch"]
        elif coco_names is not None and config.num_classes == len(coco_names):
            class_names = coco_names
        else:
            class_names = [f"class_{i}" for i in range(config.num_classes)]
    if len(class_names) != config.num_classes:
        raise ValueError(f"{len(class_names)} class names for {config.num_classes} classes")
    feeds = {"image": torch.zeros(1, 3, height, width)}
    input_section = {
        "sizePolicy": {"kind": "fixed", "height": height, "width": width},
        "resize": "bilinear-stretch",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "pixelScale": 255,
        "layout": "NCHW",
    }
    per_patch = config.num_queries // config.num_patches if pretrain else 0
    if pretrain:
        feeds["patches"] = torch.zeros(1, 2, 3, PATCH_SIZE, PATCH_SIZE)
        input_section["queryPatch"] = {
            "height": PATCH_SIZE,
            "width": PATCH_SIZE,
            "maxPatches": config.num_patches,
            "queriesPerPatch": per_patch,
        }
    output = {
        "logits": "pred_logits",
        "boxes": "pred_boxes",
        "classActivation": "softmax",
        "classNames": list(class_names),
        "boxFormat": "cxcywh-normalized",
        "noObjectClass": config.num_classes,
    }
    if not pretrain:
        output["topK"] = config.num_queries
    description = {
        "model": {"family": "up-detr", "variant": config.variant},
        "input": input_section,
        "output": output,
        "architecture": {
            "hiddenDim": config.hidden_dim,
            "numQueries": config.num_queries,
            "encoderLayers": config.enc_layers,
            "decoderLayers": config.dec_layers,
            "numHeads": config.nheads,
            "ffnDim": config.dim_feedforward,
            "preNorm": config.pre_norm,
            "backbone": config.backbone,
        },
    }
    summary = (
        f"found up-detr {config.variant}: hidden {config.hidden_dim}, heads {config.nheads}, layers "
        f"{config.enc_layers}+{config.dec_layers}, queries {config.num_queries}"
        + (f" ({config.num_patches} patches x {per_patch})" if pretrain else "")
        + f", classes {config.num_classes}+no-object, {'pre' if config.pre_norm else 'post'}-norm, "
        f"backbone {config.backbone}, input {height}x{width}"
    )
    return updetr_plan(model, config), feeds, description, summary
