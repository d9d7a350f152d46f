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
Computed, and exported, as one MatMul per tap with separable per-box cell weights (roi_descriptors): no
GridSample; the patch count stays a dynamic axis.

API
  crop_patches(rgb uint8 HxWx3, boxes xyxy pixels [K,4], size=128) -> [K, 3, size, size] float 0-255
  pooled_features(levels: list of [B, C_l, h, w]) -> [B, sum C_l]   (global average pool per tap)
  level_slices(channels) -> [slice per tap] into the concatenated descriptor
  roi_descriptors(levels: list of [B, C_l, h, w], boxes [B, K, 4] xyxy relative to the image, samples=8)
      -> [B, K, sum C]
  axis_weights(low, high [B, K], size, samples=8) -> [B, size, 1, K] per-cell weights along one axis
  roi_grid(boxes [B, K, 4], samples=8) -> [B, K*S, S, 2] the same sample points as a grid_sample grid
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
    """boxes [B, K, 4] xyxy in [0, 1] -> grid_sample grid [B, K*S, S, 2] (x, y in [-1, 1]): the sample points
    roi_descriptors averages, in torch grid_sample's form (the tests' second reference)."""
    steps = (torch.arange(samples, dtype=boxes.dtype, device=boxes.device) + 0.5) / samples  # [S]
    x0, y0, x1, y1 = boxes.unbind(-1)  # [B, K]
    xs = x0[..., None] + steps * (x1 - x0)[..., None]  # [B, K, S]
    ys = y0[..., None] + steps * (y1 - y0)[..., None]
    grid = torch.stack(torch.broadcast_tensors(xs[:, :, None, :], ys[:, :, :, None]), -1)  # [B, K, S(y), S(x), 2]
    return (2 * grid - 1).flatten(1, 2)


def axis_weights(low: torch.Tensor, high: torch.Tensor, size: int, samples: int = ROI_SAMPLES) -> torch.Tensor:
    """[B, size, 1, K]: per box (low, high [B, K] relative to the image along one axis), each cell's bilinear
    weight averaged over the box's S sample points along that axis. A sample at cell coordinate
    u = x * size - 0.5, clamped to [0, size - 1] (grid_sample's 'border' padding), weighs cell c by
    max(0, 1 - |u - c|): linear interpolation between its two neighbours."""
    steps = ((torch.arange(samples, dtype=low.dtype, device=low.device) + 0.5) / samples)[:, None, None]  # [S, 1, 1]
    positions = low[:, None, None, :] + steps * (high - low)[:, None, None, :]  # [B, S, 1, K]
    u = (positions * size - 0.5).clamp(0, size - 1)
    cells = torch.arange(size, dtype=low.dtype, device=low.device)[:, None]  # [size, 1]
    weights = (1 - (u - cells).abs()).clamp_min(0)  # [B, S, size, K]
    # The mean over the samples as S - 1 Adds of [B, size, K] slices: a ReduceMean is slow under ORT WebGPU's NHWC
    # layout; a constant row times [B, S, size * K] (a MatMul with one output row) took ~0.3 s of a 10-patch head
    # under emulation, these Adds and their slices ~0.03 s
    total = weights[:, 0]
    for sample in range(1, samples):
        total = total + weights[:, sample]
    return (total * (1.0 / samples))[:, :, None, :]


def roi_descriptors(
    levels, boxes: torch.Tensor, samples: int = ROI_SAMPLES, channels_last: bool = True
) -> torch.Tensor:
    """Mean of S x S bilinear samples of each tap inside each box, taps concatenated: [B, K, sum C], or
    [B, sum C, K] with channels_last=False.

    Bilinear sampling is separable, so the mean over the box's S x S grid is, per tap, the map [B, C, h*w]
    times one weight column per box, the outer product of its row and column weights (axis_weights):
    [B, h*w, K], K last so no Transpose builds it. Exported that is Sub/Abs/Clip/MatMul/Mul/Reshape, no
    GridSample: ORT WebGPU runs GridSample in NHWC and transposes every tap into it and the samples out of it
    on each re-query (those 4D Transposes took ~0.6 s of a 10-patch patch_queries and ~0.5 s of patch_head under
    emulation: bench/FINDINGS.md)."""
    b, k = boxes.shape[:2]
    x0, y0, x1, y1 = boxes.unbind(-1)  # [B, K]
    parts = []
    for level in levels:
        c, h, w = level.shape[1:]
        rows = axis_weights(y0, y1, h, samples)  # [B, h, 1, K]
        columns = axis_weights(x0, x1, w, samples).reshape(b, 1, w, k)
        cell_weights = (rows * columns).reshape(b, h * w, k)
        parts.append(level.reshape(b, c, h * w) @ cell_weights)  # [B, C, K]
    pooled = torch.cat(parts, 1)
    return pooled.transpose(1, 2) if channels_last else pooled


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
