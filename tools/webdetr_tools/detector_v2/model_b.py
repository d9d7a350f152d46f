"""Detector v2b: Deformable-DETR (iterative box refinement) whose two-stage proposals ARE the teacher's
detections (proposals.py), so it starts at the teacher's quality and training adds what DETR adds: box
refinement, de-duplication, re-scoring with context.

Per query k = one teacher detection (position p_k, class c_k, box b_k, heat-map logits h_k over classes):
  reference box   = b_k (the decoder refines it; every box head's last layer starts at 0, so step-0
                    boxes are the teacher's);
  query_pos       = pos_trans(sine embedding of b_k) (official two-stage), its content half dropped;
  query content   = encoder memory at p_k (level-8 token) + score_embed(sigmoid h_k) + label_embed(c_k);
  class logits    = base_k + class_embed[l](hs), class_embed zero-initialised, with base_k[c_k] = the
                    teacher's logit h_k[c_k] and base_k[c] = other_class_logit elsewhere: one class per
                    query as CenterNet decodes, so at step 0 the top-K over queries x classes is exactly the
                    teacher's top-K (same boxes, same scores) and the AP is the teacher's.
No encoder loss (the proposals are not learned). Module names = the official two-stage model's plus
score_embed / label_embed, so the shared parts load from a v2 checkpoint (load_shared).

API
  build_model_b(config) -> DeformableDETRB
  forward_train(model, levels, proposals=None) -> ([(logits, boxes)] per decoder layer, None)
  forward_eval(model, levels, proposals=None) -> (logits, boxes) of the last layer
  load_shared(model, state_dict) -> (loaded keys, skipped keys): encoder, decoder layers, input_proj,
      level_embed, pos_trans; never the heads (they must start at 0)
"""
from __future__ import annotations

import torch
from torch import nn

from ..models.deformable_detr import DeformableDETR
from ..models.deformable_transformer import inverse_sigmoid, proposal_position_embedding
from ..training.detector import CachedFeatures, matmul_core
from .model import _initialize_two_stage, model_config
from .neck import LEVEL_CHANNELS
from .proposals import from_level8

HEADS = ("class_embed", "bbox_embed")


class DeformableDETRB(DeformableDETR):
    def __init__(self, config, feature_size: int, other_class_logit: float, channels=LEVEL_CHANNELS):
        super().__init__(config, backbone=CachedFeatures(channels))
        d, c = config.hidden_dim, config.num_classes
        self.feature_size = feature_size
        self.other_class_logit = float(other_class_logit)
        self.score_embed = nn.Sequential(nn.Linear(c, d), nn.ReLU(), nn.Linear(d, d))
        self.label_embed = nn.Embedding(c, d)

    def proposals(self, levels):
        return from_level8(levels[0], self.feature_size, self.num_queries)

    def proposal_queries(self, memory, p):
        d = self.config.hidden_dim
        h8, w8 = self.feature_size // 8, self.feature_size // 8
        token = p.position
        if p.grid == (2 * h8, 2 * w8):  # stride-4 proposals: the level-8 token whose cell holds the peak
            row, col = torch.div(token, p.grid[1], rounding_mode="floor"), token % p.grid[1]
            token = torch.div(row, 2, rounding_mode="floor") * w8 + torch.div(col, 2, rounding_mode="floor")
        elif p.grid != (h8, w8):
            raise ValueError(f"proposal grid {p.grid}: neither stride 8 nor stride 4 of {self.feature_size}")
        content = torch.gather(memory[:, : h8 * w8], 1, token[..., None].expand(-1, -1, d))
        content = content + self.score_embed(p.class_logits.sigmoid()) + self.label_embed(p.labels)
        t = self.transformer
        embed = proposal_position_embedding(inverse_sigmoid(p.boxes), d // 2)
        query_pos = t.pos_trans_norm(t.pos_trans(embed))[..., :d]
        return dict(tgt=content, query_pos=query_pos, reference_points=p.boxes)

    def base_logits(self, p):
        base = torch.full(p.class_logits.shape, self.other_class_logit, dtype=p.class_logits.dtype)
        return base.scatter(2, p.labels[..., None], p.logit[..., None])


def build_model_b(config: dict) -> DeformableDETRB:
    def construct(mc):
        if not mc.two_stage:
            raise ValueError("v2b is the two-stage model with the teacher's detections as proposals")
        return DeformableDETRB(mc, config["feature_size"], config["model"]["proposals"]["other_class_logit"])

    return build_with_proposals(config, construct)


def build_with_proposals(config: dict, construct):
    """Seeded model_config -> construct(mc) (v2b, v3: it checks mc and builds the model), two-stage init, class heads
    zeroed (with the box heads' zero last layers, step 0 outputs the proposals), the training core."""
    torch.manual_seed(config["seed"])
    model_cfg = {k: v for k, v in config["model"].items() if k != "proposals"}
    model = construct(model_config(model_cfg, len(config["classes"])))
    _initialize_two_stage(model)
    with torch.no_grad():
        for head in model.class_embed:
            head.weight.zero_()
            head.bias.zero_()
    return model.set_core(matmul_core)


def load_shared(model: DeformableDETRB, state_dict: dict):
    own = model.state_dict()
    loaded = {
        k: v
        for k, v in state_dict.items()
        if k in own and own[k].shape == v.shape and not any(h in k for h in HEADS) and "enc_output" not in k
    }
    model.load_state_dict(loaded, strict=False)
    return sorted(loaded), sorted(k for k in state_dict if k not in loaded)


def forward_train(model: DeformableDETRB, levels, proposals=None):
    p = proposals if proposals is not None else model.proposals(levels)
    srcs = model.level_features(model.backbone_features(levels))
    src, pos, shapes = model.flatten_levels(srcs, model.position_encodings(srcs))
    memory = model.encode(src, pos, shapes)
    q = model.proposal_queries(memory, p)
    hs, refs = model.decode(q["tgt"], q["query_pos"], q["reference_points"], memory, shapes)
    base = model.base_logits(p)
    layers = []
    for i, (h, r) in enumerate(zip(hs, refs)):
        logits, boxes = model.head(i, h, r)
        layers.append((base + logits, boxes))
    return layers, None


@torch.no_grad()
def forward_eval(model, levels, proposals=None):
    layers, _ = forward_train(model, levels, proposals)
    return layers[-1]
