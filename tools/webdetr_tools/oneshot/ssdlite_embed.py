"""Training-free one-shot pieces on the SSDLite MobileNetV2 COCO detector (issue 26): does SSDLite give better
class-agnostic proposals or patch / box embeddings than the CenterNet teacher (`teacher_embed.py`)?

Everything here works in normalised picture coordinates (x0, y0, x1, y1 in 0-1): SSDLite sees a 300x300 stretch
and the CenterNet teacher a 512x512 one, so a box in 0-1 times a map's width / height is that box on the map,
whatever model made the map. (For the teacher at 512 this equals its own `pool(..., stride)`.)

Maps (`SsdLiteMaps`, the ported graph of `teacher/ssdlite.py` with more output nodes; 300x300 input):
  c3  expanded_conv_6/expand/Relu6  (192 ch, 38x38: the last stride-8 map, for small objects)
  c4  expanded_conv_13/expand/Relu6 (576 ch, 19x19: the first map the box predictors read)
  c5  Conv_1/Relu6                  (1280 ch, 10x10: the second box-predictor map)
  x6  layer_19_2_Conv2d_2_3x3_s2_512/Relu6 (512 ch, 5x5: the third)
plus the decoded anchors (`boxes` [1917,4] 0-1) and their 80 class probabilities (`probs` [1917,80]).

Proposals (`anchor_proposals`): the 1,917 decoded anchors, class-agnostic objectness = max of the 80 class
sigmoids, clipped to the picture, class-agnostic NMS (or none), top k.

Embeddings: `embed_normalised` RoIAlign-mean-pools any tap over 0-1 boxes (grid x grid samples, aligned=True),
centres by a fixed mean feature and L2-normalises per tap, as `teacher_embed.embed`. `anchor_class_vectors` is
the 80-class probability vector of the anchor whose decoded box overlaps a given box most (the SSDLite analogue
of the teacher's pooled heat-map probabilities, "heat"); its centre is the mean over anchors of unrelated photos.

API
  SSD_TAPS
  SsdLiteMaps(model_json=None)(images [1,3,300,300] 0-255) -> dict: taps [C,h,w], boxes [A,4], probs [A,80]
  preprocess(rgb HxWx3 uint8) -> [1,3,300,300] (PIL bilinear stretch, as SsdLite.detect)
  anchor_proposals(boxes [A,4], probs [A,80], k, nms_iou=0.7) -> (boxes [k,4] 0-1, objectness [k])
  pool_normalised(feature [C,h,w], boxes [N,4] 0-1, grid=4) -> [N,C]
  anchor_class_vectors(anchor_boxes [A,4], probs [A,80], boxes [N,4]) -> [N,80]
  embed_normalised(maps, boxes, taps, center=None) -> {tap: [N,C]} ("cls" is anchor_class_vectors)
  map_means(maps_list, taps) -> {tap: [C]} (spatial mean of each map; the mean class vector for "cls")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.ops import box_iou, nms, roi_align

from ..backbones.tfjs_graph import TfjsGraphModule, load_tfjs_model
from ..teacher.ssdlite import (
    ANCHORS_NODE,
    COCO80_IDS,
    ENCODINGS_NODE,
    INPUT_NODE,
    INPUT_SIZE,
    LOGITS_NODE,
    decode_boxes,
    fetch,
)

_NET = "FeatureExtractor/MobilenetV2/"
SSD_TAPS = {
    "c3": _NET + "expanded_conv_6/expand/Relu6",
    "c4": _NET + "expanded_conv_13/expand/Relu6",
    "c5": _NET + "Conv_1/Relu6",
    "x6": _NET + "layer_19_2_Conv2d_2_3x3_s2_512/Relu6",
}
CLASS_TAP = "cls"


class SsdLiteMaps(nn.Module):
    """The SSDLite graph run once for its decoded anchors, class probabilities and backbone maps."""

    def __init__(self, model_json: Path | None = None):
        super().__init__()
        graph = load_tfjs_model(model_json or fetch())
        outputs = [ENCODINGS_NODE, LOGITS_NODE, *SSD_TAPS.values()]
        self.graph = TfjsGraphModule(graph, outputs, input_name=INPUT_NODE).eval()
        self.register_buffer("anchors", torch.from_numpy(graph.weights[ANCHORS_NODE][0].copy()))
        self.register_buffer("class_columns", torch.tensor(COCO80_IDS, dtype=torch.long))

    @torch.no_grad()
    def forward(self, images_0_255: torch.Tensor) -> dict:
        encodings, logits, *taps = self.graph(images_0_255)
        maps = {name: out[0].float() for name, out in zip(SSD_TAPS, taps)}
        maps["boxes"] = decode_boxes(encodings, self.anchors)[0].float()
        maps["probs"] = torch.sigmoid(logits[0][:, self.class_columns]).float()
        return maps


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    image = Image.fromarray(np.asarray(rgb, np.uint8)).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, np.float32).copy()).permute(2, 0, 1)[None]


def anchor_proposals(boxes: torch.Tensor, probs: torch.Tensor, k: int, nms_iou: float | None = 0.7):
    """Top-k class-agnostic boxes: objectness = max class probability; boxes clipped to the picture, slivers
    (under 1 % of a side) dropped; NMS at nms_iou (None: none) so k is not spent on one object's anchors."""
    boxes = boxes.clamp(0, 1)
    objectness = probs.amax(1)
    ok = ((boxes[:, 2] - boxes[:, 0]) > 0.01) & ((boxes[:, 3] - boxes[:, 1]) > 0.01)
    index = torch.nonzero(ok, as_tuple=True)[0]
    order = objectness[index].argsort(descending=True)
    index = index[order]
    if nms_iou is not None:
        index = index[nms(boxes[index], objectness[index], nms_iou)]
    index = index[:k]
    return boxes[index], objectness[index]


def pool_normalised(feature: torch.Tensor, boxes: torch.Tensor, grid: int = 4) -> torch.Tensor:
    _, h, w = feature.shape
    scale = torch.tensor([w, h, w, h], dtype=torch.float32)
    rois = torch.cat([torch.zeros(len(boxes), 1), boxes.float() * scale], 1)
    samples = roi_align(feature[None], rois, (grid, grid), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return samples.mean((2, 3))


def anchor_class_vectors(anchor_boxes: torch.Tensor, probs: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """[N, 80]: the class probabilities of the decoded anchor that overlaps each box most."""
    best = box_iou(boxes.float(), anchor_boxes.clamp(0, 1)).argmax(1)
    return probs[best]


def embed_normalised(maps: dict, boxes: torch.Tensor, taps, center: dict | None = None, grid: int = 4) -> dict:
    out = {}
    for t in taps:
        if t == CLASS_TAP:
            v = anchor_class_vectors(maps["boxes"], maps["probs"], boxes)
        else:
            v = pool_normalised(maps[t], boxes, grid)
        out[t] = F.normalize(v - center[t] if center is not None else v, dim=1)
    return out


def map_means(maps_list, taps) -> dict:
    """{tap: [C]}: a fixed, picture-independent centre for the cosines (the maps are ReLU6 outputs, all >= 0)."""
    sums = {}
    for maps in maps_list:
        for t in taps:
            v = maps["probs"].mean(0) if t == CLASS_TAP else maps[t].mean((1, 2))
            sums.setdefault(t, []).append(v)
    return {t: torch.stack(v).mean(0) for t, v in sums.items()}
