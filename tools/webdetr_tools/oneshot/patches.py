"""Query patches: crop a box out of the original image and describe it with the frozen backbone.

Crop: PIL `Image.crop(box).resize((size, size), BILINEAR)` on the RGB image at its original
resolution (= torchvision's Resize on a PIL image in the official UP-DETR query transform, and our WGSL
bilinear 'pil' crop mode), values 0-255 float, no mean/std (the CenterNet graph takes 0-255).
Descriptor: the backbone's taps at strides 8/16/32 on the patch, each global-average-pooled and
concatenated -> [K, 96 + 88 + 480 = 664] (channel order: stride 8, 16, 32).

API
  crop_patches(rgb uint8 HxWx3, boxes xyxy pixels [K,4], size=128) -> [K, 3, size, size] float 0-255
  pooled_features(levels: list of [B, C_l, h, w]) -> [B, sum C_l]   (global average pool per tap)
  level_slices(channels) -> [slice per tap] into the concatenated descriptor
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def crop_patches(rgb: np.ndarray, boxes, size: int = 128) -> torch.Tensor:
    image = Image.fromarray(rgb)
    out = []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        # PIL crops on integer pixel edges; round to the nearest edge and keep at least one pixel
        left, top = int(round(x0)), int(round(y0))
        right, bottom = max(int(round(x1)), left + 1), max(int(round(y1)), top + 1)
        patch = image.crop((left, top, right, bottom)).resize((size, size), Image.BILINEAR)
        out.append(torch.from_numpy(np.asarray(patch, np.float32).copy()).permute(2, 0, 1))
    return torch.stack(out) if out else torch.zeros(0, 3, size, size)


def pooled_features(levels) -> torch.Tensor:
    # GlobalAveragePool in ONNX (see backbones/tfjs_graph.py's Mean): safe in ORT WebGPU's NCHW layout
    return torch.cat([F.adaptive_avg_pool2d(level, 1).flatten(1) for level in levels], dim=1)


def level_slices(channels) -> list[slice]:
    edges = np.cumsum([0] + list(channels))
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
