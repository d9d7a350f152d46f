"""The detector being pretrained (exactly training/detector.py's, with one class 'object', so every weight
except the class head transfers) plus AlignDet's projection head for the box-level contrastive loss.

API
  AlignDetModel(model_cfg, in_channels, proj_dim=128, seed=0): .detector (DeformableDETR, 1 class),
      .projector (Linear-ReLU-Linear, hidden_dim -> proj_dim; dropped after pretraining)
  forward_view(detector, features) -> (layers: list of (logits [B,Q,1], boxes [B,Q,4] cxcywh) per decoder
      layer, hs [B, Q, hidden_dim] the last decoder layer's query embeddings)
"""
from __future__ import annotations

from torch import nn

from ..training.detector import build_detector


class AlignDetModel(nn.Module):
    def __init__(self, model_cfg: dict, in_channels, proj_dim: int = 128, seed: int = 0):
        super().__init__()
        self.detector = build_detector(model_cfg, 1, in_channels, seed)
        d = model_cfg["hidden_dim"]
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, proj_dim))


def forward_view(detector, features):
    """Same computation as training/detector.forward_layers, also returning the last embeddings."""
    srcs = detector.level_features(detector.backbone_features(features))
    src, pos, shapes = detector.flatten_levels(srcs, detector.position_encodings(srcs))
    memory = detector.encode(src, pos, shapes)
    q = detector.decoder_queries(memory, shapes)
    hs, refs = detector.decode(q["tgt"], q["query_pos"], q["reference_points"], memory, shapes)
    layers = [detector.head(i, h, r) for i, (h, r) in enumerate(zip(hs, refs))]
    return layers, hs[-1]
