"""Detector v2 model: our reference Deformable-DETR (iterative box refinement, two-stage) over the cached
teacher-neck levels (neck.py). Same module names as the official code, so export/ handles it as a
two-stage checkpoint; the exporter puts TeacherNeck in front instead of the backbone taps.

Why two-stage: the encoder's stride-8 level carries the teacher's heat-map logits, so top-k encoder
proposals are queries seeded where the teacher sees objects (the issue's "seed two-stage queries from its
peaks"), instead of 100 learned reference points that must cover every image.

API
  model_config(model_cfg, num_classes) -> ModelConfig
  build_model(config) -> DeformableDETR (official init; two-stage: every box head's size bias 0)
  forward_train(model, levels) -> (decoder layers [(logits, boxes)], encoder (logits [B,S,C], boxes [B,S,4]) or None)
  forward_eval(model, levels) -> (logits, boxes) of the last decoder layer
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import ModelConfig
from ..models.deformable_detr import DeformableDETR
from ..models.deformable_transformer import encoder_output_proposals, proposal_position_embedding
from ..training.detector import CachedFeatures, initialize, matmul_core
from ..models.ms_deform_attn import MSDeformAttn
from .neck import LEVEL_CHANNELS


def model_config(model_cfg: dict, num_classes: int) -> ModelConfig:
    cfg = dict(model_cfg)
    two_stage = bool(cfg.pop("two_stage", False))
    return ModelConfig(
        family="deformable-detr",
        variant="two-stage" if two_stage else "refine",
        num_classes=num_classes,
        with_box_refine=True,
        two_stage=two_stage,
        backbone="centernet-neck",
        **cfg,
    )


def build_model(config: dict) -> DeformableDETR:
    torch.manual_seed(config["seed"])
    mc = model_config(config["model"], len(config["classes"]))
    model = DeformableDETR(mc, backbone=CachedFeatures(LEVEL_CHANNELS))
    if mc.two_stage:
        _initialize_two_stage(model)
    else:
        initialize(model)
    return model.set_core(matmul_core)


def _initialize_two_stage(model: DeformableDETR) -> None:
    """training.detector.initialize for two-stage (no reference_points layer; official: every box head's
    size bias 0, the proposals carry the size already)."""
    t = model.transformer
    for name, p in t.named_parameters():
        if p.dim() > 1 and not name.startswith(("decoder.bbox_embed", "decoder.class_embed")):
            nn.init.xavier_uniform_(p)
    for m in t.modules():
        if isinstance(m, MSDeformAttn):
            m.reset_parameters()
    nn.init.normal_(t.level_embed)
    prior = -math.log((1 - 0.01) / 0.01)
    with torch.no_grad():
        for head in model.class_embed:
            head.bias.fill_(prior)
        for box in model.bbox_embed:
            nn.init.constant_(box.layers[-1].weight, 0.0)
            nn.init.constant_(box.layers[-1].bias, 0.0)
    for proj in model.input_proj:
        nn.init.xavier_uniform_(proj[0].weight, gain=1)
        nn.init.constant_(proj[0].bias, 0.0)


def _queries(model, memory, shapes):
    if not model.config.two_stage:
        return model.decoder_queries(memory, shapes), None
    t = model.transformer
    proposals, valid = encoder_output_proposals(memory, shapes)
    output_memory = t.enc_output_norm(t.enc_output(memory.masked_fill(~valid, 0.0)))
    last = model.config.dec_layers
    enc_class = model.class_embed[last](output_memory)
    enc_coord_unact = model.bbox_embed[last](output_memory) + proposals
    top = torch.topk(enc_class[..., 0], model.num_queries, dim=1)[1]
    # detached as in the official code: the decoder's losses do not move the proposals
    coords_unact = torch.gather(enc_coord_unact, 1, top.unsqueeze(-1).repeat(1, 1, 4)).detach()
    embed = proposal_position_embedding(coords_unact, model.config.hidden_dim // 2)
    query_pos, tgt = torch.split(t.pos_trans_norm(t.pos_trans(embed)), model.config.hidden_dim, dim=2)
    q = dict(tgt=tgt, query_pos=query_pos, reference_points=coords_unact.sigmoid())
    return q, (enc_class, enc_coord_unact.sigmoid())


def forward_train(model, levels):
    srcs = model.level_features(model.backbone_features(levels))
    src, pos, shapes = model.flatten_levels(srcs, model.position_encodings(srcs))
    memory = model.encode(src, pos, shapes)
    q, enc = _queries(model, memory, shapes)
    hs, refs = model.decode(q["tgt"], q["query_pos"], q["reference_points"], memory, shapes)
    return [model.head(i, h, r) for i, (h, r) in enumerate(zip(hs, refs))], enc


@torch.no_grad()
def forward_eval(model, levels):
    layers, _ = forward_train(model, levels)
    return layers[-1]
