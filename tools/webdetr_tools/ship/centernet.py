"""The frozen CenterNet MobileNetV3 backbone of our trained models, as export-plan features.

Input convention (training cached the same maps, training/features.py): RGB 0-255 stretched to a square
size, no mean/std. A package states that as mean 0, std 1/255 on pixels / 255, which our runtime's
(pixel / 255 - mean) / std turns back into 0-255 (to float rounding).
"""
from pathlib import Path

import torch

from ..backbones.centernet_mobilenetv3 import CenterNetMobileNetV3
from ..export.features import sine_position_embedding

STRIDES = (8, 16, 32)
BACKBONE_NAME = "centernet-mobilenetv3"
INPUT_0_255 = {"mean": [0.0, 0.0, 0.0], "std": [1 / 255] * 3, "pixelScale": 255}


def load_backbone(model_json: Path) -> CenterNetMobileNetV3:
    return CenterNetMobileNetV3(Path(model_json), STRIDES).eval()


def projected_levels(backbone, input_proj, image):
    """Backbone taps -> input_proj per level -> sine position embeddings (Deformable-DETR's, normalized)."""
    return project_taps(backbone(image), input_proj)


def project_taps(taps, input_proj):
    """The backbone's taps -> (input_proj per level, sine position embeddings)."""
    srcs = [proj(feature) for proj, feature in zip(input_proj, taps)]
    hidden = srcs[0].shape[1]
    pos = [sine_position_embedding(s.shape[2], s.shape[3], hidden // 2, offset=-0.5).to(s.dtype) for s in srcs]
    return srcs, pos


def centernet_features(model, image):
    """The `features` callable of export.deformable_segments: model.backbone[0] is the CenterNet."""
    return projected_levels(model.backbone[0], model.input_proj, image)


def pooled_patch_descriptors(backbone, patches):
    """[N, K, 3, h, w] 0-255 crops -> [N, K, sum C] (global average pool of each tap, strides 8/16/32)."""
    n, k = patches.shape[:2]
    levels = backbone(patches.reshape(n * k, *patches.shape[2:]))
    return torch.cat([level.mean(dim=(2, 3)) for level in levels], dim=1).reshape(n, k, -1)
