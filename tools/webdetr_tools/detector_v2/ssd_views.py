"""v3 training inputs: the cached views (data.ViewCache: the same images, splits and seeded views as v2b) rendered
again at 300x300 and run through the frozen SSDLite graph on the fly. SSDLite costs ~40 ms a picture on one thread,
less than a stored copy of its taps would cost to read (7.9 GB for the 11,268 views in fp16).

API
  SsdViewCache(cache_root, config, data_root, model_json=None): a ViewCache whose .features(items) returns the
      v3 inputs [tap19, tap10, tap5, boxes [B,1917,4] xyxy 0-1, logits [B,1917,80]] (model_v3.py)
  SsdInputs(model_json=None): module, images [N,3,300,300] 0-255 -> those inputs (also the package's front)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..backbones.tfjs_graph import TfjsGraphModule, load_tfjs_model
from ..data.datasets import read_rgb
from ..teacher.ssdlite import ANCHORS_NODE, COCO80_IDS, ENCODINGS_NODE, INPUT_NODE, INPUT_SIZE, LOGITS_NODE
from ..teacher.ssdlite import anchor_geometry, decode_with_geometry, fetch
from .augment import render
from .data import ViewCache, set_rows
from .model_v3 import SSD_TAPS


class SsdInputs(nn.Module):
    def __init__(self, model_json: Path | None = None):
        super().__init__()
        graph = load_tfjs_model(model_json or fetch())
        self.graph = TfjsGraphModule(graph, [*SSD_TAPS, ENCODINGS_NODE, LOGITS_NODE], input_name=INPUT_NODE)
        # centres and sizes, not corners: the buffer is then what the package's graph stores (fp16-rounded alike)
        anchors = torch.from_numpy(graph.weights[ANCHORS_NODE][0].copy())
        self.register_buffer("anchor_geometry", anchor_geometry(anchors))
        self.register_buffer("class_columns", torch.tensor(COCO80_IDS, dtype=torch.long))

    def forward(self, images):
        *taps, encodings, logits = self.graph(images)
        return [*taps, decode_with_geometry(encodings, self.anchor_geometry), logits[..., self.class_columns]]


class SsdViewCache(ViewCache):
    def __init__(self, cache_root: Path, config: dict, data_root: Path, model_json: Path | None = None):
        super().__init__(cache_root)
        if int(config["feature_size"]) != INPUT_SIZE:
            raise ValueError(
                f"v3 runs SSDLite at {INPUT_SIZE}x{INPUT_SIZE}; config feature_size {config['feature_size']}"
            )
        self.ssd = SsdInputs(model_json).eval()
        self._paths = {name: {r[0]: r[1] for r in set_rows(data_root, name, config)} for name in config["data"]["sets"]}

    @torch.no_grad()
    def features(self, items) -> list[torch.Tensor]:
        pictures = []
        for name, image_id, view in items:
            rgb = read_rgb(self._paths[name][image_id])
            if rgb is None:
                raise FileNotFoundError(f"{name}/{image_id}: unreadable picture")
            pictures.append(render(np.asarray(rgb), self.views(name, image_id)[view], INPUT_SIZE))
        return self.ssd(torch.cat(pictures))
