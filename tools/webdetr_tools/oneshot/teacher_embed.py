"""Training-free one-shot scoring on the CenterNet teacher (issue 26, OWL-ViT-style lead): class-agnostic
box proposals from the teacher's heat-map peaks, each scored by the embedding similarity of its pooled
teacher features to the query patch's.

Maps (`TeacherMaps`, the teacher graph at any input divisible by 32, ResizeBilinear doubling as at 512):
  neck4  tower_0/CenternetHead/mul (128 ch, stride 4: the SE-weighted map both heads read)
  neck8  tower_0/CenternetHead/Relu_1 (192 ch, stride 8)
  neck16 tower_0/CenternetHead/Relu (256 ch, stride 16)
  c5     tower_0/extern1/hard_swish/mul_1 (480 ch, stride 32)
  heat   heat-map logits (80 ch, stride 4);  wh  box sides in input pixels (4 ch, stride 4)

Proposals (`proposals`): the class-agnostic heat-map (max over the 80 classes, sigmoid), 3x3 max-pool peaks,
top k, each with the teacher's box at that cell (cx - l, cy - t, cx + r, cy + b) and the peak value as
objectness. In the browser: one max over channels, the 3x3 peak filter and a top-k, the same kernels the
detector's decode uses.

Pooling (`pool`): torchvision RoIAlign of a map over boxes (input pixels, spatial_scale = 1/stride,
aligned=True), `grid` x `grid` samples reduced by mean ('mean'), max ('max') or both concatenated
('meanmax'); 'center' is the mean of the middle 2x2 of a 4x4 grid. `embed` L2-normalises each tap's vector
so `similarity` (mean over taps of the cosine) weighs the taps equally whatever their width.

API
  TAPS, STRIDES
  TeacherMaps(model_json)(images [1,3,S,S] 0-255) -> dict tap -> [C,h,w] (float32)
  preprocess(rgb, size) -> [1,3,size,size] (bilinear stretch, as the teacher's own detect())
  proposals(heat_logits [80,H,W], wh [4,H,W], k, stride=4, centers=False) -> (boxes [k,4] input px,
      objectness [k](, peak centres [k,2] input px))
  pool(feature [C,h,w], boxes [N,4] input px, stride, mode='mean', grid=4) -> [N,C'] (C' = 2C for meanmax)
  embed(maps, boxes, taps, mode='mean', center=None) -> dict tap -> [N,C'] (centred,) L2-normalised
  feature_mean(maps_list, taps, mode) -> dict tap -> [C'] (a fixed centre, from unrelated photos)
  similarity(query {tap: [C']}, targets {tap: [N,C']}) -> [N] mean cosine over taps
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from ..backbones.tfjs_graph import TfjsGraphModule, _resize_bilinear_tf, load_tfjs_model

TAPS = {
    "neck4": "tower_0/CenternetHead/mul",
    "neck8": "tower_0/CenternetHead/Relu_1",
    "neck16": "tower_0/CenternetHead/Relu",
    "c5": "tower_0/extern1/hard_swish/mul_1",
    "heat": "tower_0/CenternetHead/centernet_cls_output/BiasAdd",
    "wh": "tower_0/CenternetHead/centernet_wh_output/BiasAdd",
}
STRIDES = {"neck4": 4, "neck8": 8, "neck16": 16, "c5": 32, "heat": 4, "heatp": 4, "wh": 4}
WH_SCALE = 16.0  # the wh head's output is pixels / 16 (teacher.decode)


class _AnySizeGraph(TfjsGraphModule):
    def _run(self, node, args):
        if node.op == "ResizeBilinear":  # x2 upsampling whatever the input size (as at 512)
            return _resize_bilinear_tf(
                args[0],
                [2 * args[0].shape[2], 2 * args[0].shape[3]],
                bool(node.attrs.get("align_corners", False)),
                bool(node.attrs.get("half_pixel_centers", False)),
            )
        return super()._run(node, args)


class TeacherMaps(torch.nn.Module):
    def __init__(self, model_json: Path):
        super().__init__()
        self.graph = _AnySizeGraph(load_tfjs_model(Path(model_json)), list(TAPS.values())).eval()

    @torch.no_grad()
    def forward(self, images_0_255: torch.Tensor) -> dict:
        outs = self.graph(images_0_255)
        maps = {name: out[0].float() for name, out in zip(TAPS, outs)}
        maps["wh"] = maps["wh"] * WH_SCALE
        return maps


def preprocess(rgb: np.ndarray, size: int) -> torch.Tensor:
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)


def proposals(heat_logits: torch.Tensor, wh: torch.Tensor, k: int, stride: int = 4, centers: bool = False):
    heat = heat_logits.sigmoid().amax(0)  # class-agnostic objectness [H, W]
    peaks = heat * (heat == F.max_pool2d(heat[None, None], 3, stride=1, padding=1)[0, 0])
    width = heat.shape[1]
    scores, index = peaks.reshape(-1).topk(min(k, peaks.numel()))
    x = (index % width).float() * stride
    y = torch.div(index, width, rounding_mode="floor").float() * stride
    sides = wh.reshape(4, -1)[:, index]
    boxes = torch.stack([x - sides[0], y - sides[1], x + sides[2], y + sides[3]], -1)
    return (boxes, scores, torch.stack([x, y], -1)) if centers else (boxes, scores)


def pool(feature: torch.Tensor, boxes: torch.Tensor, stride: int, mode: str = "mean", grid: int = 4):
    rois = torch.cat([torch.zeros(len(boxes), 1), boxes.float()], 1)
    samples = roi_align(feature[None], rois, (grid, grid), spatial_scale=1.0 / stride, sampling_ratio=2, aligned=True)
    if mode == "mean":
        return samples.mean((2, 3))
    if mode == "max":
        return samples.amax((2, 3))
    if mode == "meanmax":
        return torch.cat([samples.mean((2, 3)), samples.amax((2, 3))], 1)
    if mode == "center":
        c = grid // 2
        return samples[:, :, c - 1 : c + 1, c - 1 : c + 1].mean((2, 3))
    raise ValueError(f"unknown pooling {mode!r}")


def embed(maps: dict, boxes: torch.Tensor, taps, mode: str = "mean", grid: int = 4, center=None) -> dict:
    """center: optional {tap: [C']} subtracted before the L2 normalisation (the neck's ReLU features are all
    positive, so raw cosines crowd near 1; `feature_mean` gives a fixed, image-independent centre)."""
    out = {}
    for t in taps:
        v = pool(maps[t], boxes, STRIDES[t], mode, grid)
        out[t] = F.normalize(v - center[t] if center is not None else v, dim=1)
    return out


def feature_mean(maps_list, taps, mode: str = "mean") -> dict:
    """{tap: [C']}: the mean pooled feature over every cell of the given pictures' maps (a whole-cell box per
    cell of the tap's grid), for embed(center=...)."""
    sums = {}
    for maps in maps_list:
        for t in taps:
            c, h, w = maps[t].shape
            stride = STRIDES[t]
            ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
            cells = torch.stack([xs, ys, xs + 1, ys + 1], -1).reshape(-1, 4).float() * stride
            sums.setdefault(t, []).append(pool(maps[t], cells, stride, mode, 2).mean(0))
    return {t: torch.stack(v).mean(0) for t, v in sums.items()}


def similarity(query: dict, targets: dict) -> torch.Tensor:
    return torch.stack([targets[t] @ query[t] for t in query]).mean(0)
