"""Query patches: describe a box of an image by the frozen backbone's features, two ways.

'crop' (UP-DETR): crop the box out of the original image and run the backbone on it.
Crop: PIL `Image.crop(box).resize((size, size), BILINEAR)` on the RGB image at its original
resolution (= torchvision's Resize on a PIL image in the official UP-DETR query transform, and our WGSL
bilinear 'pil' crop mode), values 0-255 float, no mean/std (the CenterNet graph takes 0-255).
Descriptor: the backbone's taps at strides 8/16/32 on the patch, each global-average-pooled and
concatenated -> [K, 96 + 88 + 480 = 664] (channel order: stride 8, 16, 32).

'roi': pool the image's own backbone taps (the ones the encoder already computed) over the box, so a
patch costs no backbone pass. Per tap, an S x S grid of bilinear samples at the box's cell centres
(x0 + (i + 0.5) / S * (x1 - x0), in image-relative coordinates; torch grid_sample, align_corners=False,
padding 'border': torchvision's roi_align with aligned=True and sampling_ratio=1, whose samples within half
a cell outside the map take the edge value), averaged -> the same 664-d layout as 'crop'.
Exported as one ONNX GridSample per tap on a [1, K*S, S, 2] grid and an S x S AveragePool: the patch count
stays a dynamic axis.

API
  crop_patches(rgb uint8 HxWx3, boxes xyxy pixels [K,4], size=128) -> [K, 3, size, size] float 0-255
  pooled_features(levels: list of [B, C_l, h, w]) -> [B, sum C_l]   (global average pool per tap)
  level_slices(channels) -> [slice per tap] into the concatenated descriptor
  roi_descriptors(levels: list of [B, C_l, h, w], boxes [B, K, 4] xyxy relative to the image, samples=8)
      -> [B, K, sum C]
  jitter_boxes(rng, boxes [K, 4] xyxy, sigma, width, height) -> boxes: a dragged box is never exact
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


ROI_SAMPLES = 8


def roi_grid(boxes: torch.Tensor, samples: int = ROI_SAMPLES) -> torch.Tensor:
    """boxes [B, K, 4] xyxy in [0, 1] -> grid_sample grid [B, K*S, S, 2] (x, y in [-1, 1])."""
    steps = (torch.arange(samples, dtype=boxes.dtype, device=boxes.device) + 0.5) / samples  # [S]
    x0, y0, x1, y1 = boxes.unbind(-1)  # [B, K]
    xs = x0[..., None] + steps * (x1 - x0)[..., None]  # [B, K, S]
    ys = y0[..., None] + steps * (y1 - y0)[..., None]
    grid = torch.stack(torch.broadcast_tensors(xs[:, :, None, :], ys[:, :, :, None]), -1)  # [B, K, S(y), S(x), 2]
    return (2 * grid - 1).flatten(1, 2)


def roi_descriptors(levels, boxes: torch.Tensor, samples: int = ROI_SAMPLES, channels_last: bool = True) -> torch.Tensor:
    """Mean of S x S bilinear samples of each tap inside each box, taps concatenated: [B, K, sum C], or
    [B, sum C, K] with channels_last=False (no Transpose per tap in the exported graph)."""
    b, k = boxes.shape[:2]
    grid = roi_grid(boxes, samples)
    parts = []
    for level in levels:
        sampled = F.grid_sample(level, grid, mode="bilinear", padding_mode="border", align_corners=False)
        # [B, C, K*S, S] -> an S x S average pool per box -> [B, C, K, 1]: AveragePool in ONNX. A ReduceMean
        # over the samples is slow in ORT WebGPU's NHWC layout and wrong in its NCHW one on a changing K.
        pooled = F.avg_pool2d(sampled, samples).view(b, level.shape[1], k)
        parts.append(pooled.transpose(1, 2) if channels_last else pooled)
    return torch.cat(parts, -1 if channels_last else 1)


def tap_indicator(channels) -> torch.Tensor:
    """[taps, sum C]: row t is 1 on tap t's channels, so indicator @ x sums x [.., sum C, N] per tap in one
    MatMul (nine ReduceSums over channel slices cost a fifth of the exported patch head under emulation)."""
    # Built in numpy: an indexed write on a torch tensor would trace into ScatterND ops, not one constant
    edges = np.cumsum([0] + list(channels))
    column = np.arange(edges[-1])
    return torch.from_numpy(((column >= edges[:-1, None]) & (column < edges[1:, None])).astype(np.float32))


def jitter_boxes(rng, boxes, sigma: float, width: float, height: float) -> np.ndarray:
    """Shift the centre by N(0, sigma) box sides and scale each side by exp(N(0, sigma)), kept in the image."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if sigma <= 0 or not len(boxes):
        return boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    noise = rng.normal(0.0, sigma, (len(boxes), 4))
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + noise[:, 0] * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + noise[:, 1] * h
    w, h = w * np.exp(noise[:, 2]), h * np.exp(noise[:, 3])
    out = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    out[:, 2] = np.maximum(out[:, 2], np.minimum(out[:, 0] + 1, width))
    out[:, 3] = np.maximum(out[:, 3], np.minimum(out[:, 1] + 1, height))
    return out
