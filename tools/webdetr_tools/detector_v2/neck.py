"""The CenterNet teacher's neck (its upsampling path) and heads as the student's encoder levels.

Why: the shipped student saw only backbone taps (strides 8/16/32); the teacher's detection quality lives
in the neck and heat-map that follow. At 320x320 the teacher alone scores coco128 val AP 33.6 (80 classes)
against the student's 8.1, so the student is fed what the teacher computes.

Levels (input 320: 40x40 + 20x20 + 10x10 = 2,100 tokens, as today):
  stride 8:  concat[neck Relu_1 (192 ch), max-pool 2x2 of the heat-map logits (80), avg-pool 2x2 of the
             box-size head (4)] -> 276 ch
  stride 16: neck Relu (256 ch: c4 reverse + upsampled c5)
  stride 32: backbone extern1 hard-swish (480 ch, the shipped model's C5)
The graph's ResizeBilinear nodes have sizes fixed for 512 input; here each doubles its input, which is
what they do at 512 (TF1 legacy mapping), so any input divisible by 32 works.

API
  TeacherNeck(model_json) -> module; forward(images [B,3,S,S] 0-255) -> [L8, L16, L32]
      .raw(images) -> (keypoint heat-map sigmoid [B,80,S/4,S/4], wh pixels [B,4,S/4,S/4]) (teacher.decode)
  LEVEL_CHANNELS = (276, 256, 480); LEVEL_STRIDES = (8, 16, 32)
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.tfjs_graph import TfjsGraphModule, _resize_bilinear_tf, load_tfjs_model

TAPS = {
    "neck8": "tower_0/CenternetHead/Relu_1",
    "neck16": "tower_0/CenternetHead/Relu",
    "c5": "tower_0/extern1/hard_swish/mul_1",
    "heat_logits": "tower_0/CenternetHead/centernet_cls_output/BiasAdd",
    "wh_head": "tower_0/CenternetHead/centernet_wh_output/BiasAdd",  # pixels / 16
}
LEVEL_STRIDES = (8, 16, 32)
LEVEL_CHANNELS = (192 + 80 + 4, 256, 480)
WH_SCALE = 16.0


class _Upsample2xLegacy(torch.autograd.Function):
    """TF1's legacy x2 bilinear upsampling (src = dst / 2, edge clamped), exported as one ONNX Resize (linear,
    asymmetric): traced, _resize_bilinear_tf becomes 4 Gathers + Muls + Adds per upsampling, which onnxruntime-web
    runs ~4x slower (the v2b teacher's stride-4 upsampling of 64 channels: ~5.4 ms against 1.2 ms). Same values to
    float rounding (Resize sums the 4 neighbours' weighted products in its own order). Used only while exporting."""

    @staticmethod
    def forward(ctx, x):
        return _resize_bilinear_tf(x, [2 * x.shape[2], 2 * x.shape[3]], False, False)

    @staticmethod
    def symbolic(g, x):
        roi = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
        scales = g.op("Constant", value_t=torch.tensor([1.0, 1.0, 2.0, 2.0], dtype=torch.float32))
        return g.op(
            "Resize",
            x,
            roi,
            scales,
            coordinate_transformation_mode_s="asymmetric",
            mode_s="linear",
            nearest_mode_s="floor",
        )


class _AnySizeGraph(TfjsGraphModule):
    def _run(self, node, args):
        if node.op == "ResizeBilinear":  # x2 upsampling whatever the input size
            align_corners = bool(node.attrs.get("align_corners", False))
            half_pixel = bool(node.attrs.get("half_pixel_centers", False))
            if torch.onnx.is_in_onnx_export() and not align_corners and not half_pixel:
                return _Upsample2xLegacy.apply(args[0])
            return _resize_bilinear_tf(args[0], [2 * args[0].shape[2], 2 * args[0].shape[3]], align_corners, half_pixel)
        return super()._run(node, args)


class TeacherNeck(nn.Module):
    def __init__(self, model_json: Path):
        super().__init__()
        graph = load_tfjs_model(Path(model_json))
        self.graph = _AnySizeGraph(graph, [TAPS[k] for k in ("neck8", "neck16", "c5", "heat_logits", "wh_head")])
        self.num_channels = list(LEVEL_CHANNELS)

    def forward(self, images_0_255: torch.Tensor) -> list[torch.Tensor]:
        neck8, neck16, c5, heat, wh = self.graph(images_0_255)
        level8 = torch.cat([neck8, F.max_pool2d(heat, 2), F.avg_pool2d(wh, 2)], 1)
        return [level8, neck16, c5]

    @torch.no_grad()
    def raw(self, images_0_255: torch.Tensor):
        _, _, _, heat, wh = self.graph(images_0_255)
        return heat.sigmoid(), wh * WH_SCALE
