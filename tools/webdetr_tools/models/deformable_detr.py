"""Deformable-DETR detector (plain, iterative box refinement, two-stage; multi- or single-scale).

API: DeformableDETR(config, backbone=None); load_official_state_dict(sd) (strict; see state_dict.py);
forward(images [B,3,H,W] normalized, unpadded) -> {'pred_logits' [B,Q,C], 'pred_boxes' [B,Q,4] (sigmoid
cxcywh)} of the last decoder layer. set_core(fn) swaps the deformable-attention sampling core everywhere.
Stages, callable one at a time (as an exporter cuts the graph):
  backbone_features(images) -> [C3, C4, C5] (or [C5] single-scale)
  level_features(features) -> srcs, one [B, d, H_l, W_l] per level (input_proj, extra stride-2 levels)
  position_encodings(srcs) -> per level [B, d, H_l, W_l] sine (offset 0.5), without level_embed
  flatten_levels(srcs, pos) -> (src [B,S,d], pos + level_embed [B,S,d], spatial_shapes [(H,W)...])
  encode(src, pos, spatial_shapes) -> memory [B,S,d] (each layer: transformer.encoder.layers[i])
  decoder_queries(memory, spatial_shapes) -> dict(tgt, query_pos, reference_points [B,Q,2|4], ...)
  decode(tgt, query_pos, reference_points, memory, spatial_shapes) -> (hs per layer, reference per layer
      as the head of that layer uses it)
  head(layer_index, hs, reference) -> (logits, boxes)
Module names follow the official code, so official keys load one to one.
"""
import torch
from torch import nn

from .backbone import Backbone
from .deformable_transformer import (
    MLP,
    DeformableTransformer,
    encoder_output_proposals,
    encoder_reference_points,
    inverse_sigmoid,
    proposal_position_embedding,
    refine_reference,
)
from .position_encoding import sine_position_encoding
from .state_dict import load_strict


class DeformableDETR(nn.Module):
    def __init__(self, config, backbone: nn.Module = None):
        """backbone: any module images -> feature list with a `num_channels` list (e.g. the CenterNet
        MobileNetV3, or a stand-in for cached features); default the config's ResNet body."""
        super().__init__()
        if config.two_stage and not config.with_box_refine:
            raise ValueError("two-stage Deformable-DETR needs with_box_refine (the official forward does too)")
        self.config = config
        d, levels = config.hidden_dim, config.num_feature_levels
        self.num_queries = config.num_queries
        self.num_feature_levels = levels
        # registration order = official order; it decides which alias wins when loading
        self.transformer = DeformableTransformer(
            d,
            config.nheads,
            config.enc_layers,
            config.dec_layers,
            config.dim_feedforward,
            levels,
            config.enc_n_points,
            config.dec_n_points,
            config.two_stage,
        )
        num_pred = config.dec_layers + (1 if config.two_stage else 0)
        if config.with_box_refine:
            self.class_embed = nn.ModuleList(nn.Linear(d, config.num_classes) for _ in range(num_pred))
            self.bbox_embed = nn.ModuleList(MLP(d, d, 4, 3) for _ in range(num_pred))
            self.transformer.decoder.bbox_embed = self.bbox_embed
        else:
            shared_class, shared_box = nn.Linear(d, config.num_classes), MLP(d, d, 4, 3)
            self.class_embed = nn.ModuleList([shared_class] * num_pred)
            self.bbox_embed = nn.ModuleList([shared_box] * num_pred)
        if config.two_stage:
            self.transformer.decoder.class_embed = self.class_embed
        else:
            self.query_embed = nn.Embedding(config.num_queries, d * 2)
        multi_scale = levels > 1
        return_layers = ("layer2", "layer3", "layer4") if multi_scale else ("layer4",)
        if backbone is None:
            backbone = Backbone(config.backbone, config.dilation, return_layers)
        in_channels = backbone.num_channels
        projections = [nn.Sequential(nn.Conv2d(c, d, kernel_size=1), nn.GroupNorm(32, d)) for c in in_channels]
        extra_in = in_channels[-1]
        for _ in range(levels - len(in_channels) if multi_scale else 0):
            projections.append(
                nn.Sequential(nn.Conv2d(extra_in, d, kernel_size=3, stride=2, padding=1), nn.GroupNorm(32, d))
            )
            extra_in = d
        self.input_proj = nn.ModuleList(projections)
        self.backbone = nn.ModuleList([backbone])

    # --- weights -------------------------------------------------------------------------------------
    def load_official_state_dict(self, state_dict):
        load_strict(self, state_dict)
        return self

    def set_core(self, core):
        for layer in list(self.transformer.encoder.layers):
            layer.self_attn.core = core
        for layer in list(self.transformer.decoder.layers):
            layer.cross_attn.core = core
        return self

    # --- stages --------------------------------------------------------------------------------------
    def backbone_features(self, images):
        return self.backbone[0](images)

    def level_features(self, features):
        srcs = [self.input_proj[i](f) for i, f in enumerate(features)]
        for level in range(len(srcs), self.num_feature_levels):
            srcs.append(self.input_proj[level](features[-1] if level == len(features) else srcs[-1]))
        return srcs

    def position_encodings(self, srcs):
        half = self.config.hidden_dim // 2
        return [
            sine_position_encoding(s.shape[0], s.shape[2], s.shape[3], half, offset=0.5, device=s.device) for s in srcs
        ]

    def flatten_levels(self, srcs, pos):
        spatial_shapes = [(int(s.shape[2]), int(s.shape[3])) for s in srcs]
        src_flat = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos_flat = torch.cat(
            [
                p.flatten(2).transpose(1, 2) + self.transformer.level_embed[lvl].view(1, 1, -1)
                for lvl, p in enumerate(pos)
            ],
            1,
        )
        return src_flat, pos_flat, spatial_shapes

    def encode(self, src, pos, spatial_shapes):
        reference_points = encoder_reference_points(spatial_shapes, src.shape[0], src.device)
        for layer in self.transformer.encoder.layers:
            src = layer(src, pos, reference_points, spatial_shapes)
        return src

    def decoder_queries(self, memory, spatial_shapes):
        d = self.config.hidden_dim
        if not self.config.two_stage:
            query_pos, tgt = torch.split(self.query_embed.weight, d, dim=1)
            query_pos = query_pos.unsqueeze(0).expand(memory.shape[0], -1, -1)
            tgt = tgt.unsqueeze(0).expand(memory.shape[0], -1, -1)
            return dict(
                tgt=tgt, query_pos=query_pos, reference_points=self.transformer.reference_points(query_pos).sigmoid()
            )
        return self.two_stage_queries(memory, spatial_shapes)

    def two_stage_queries(self, memory, spatial_shapes):
        t = self.transformer
        proposals, valid = encoder_output_proposals(memory, spatial_shapes)
        # positions whose proposal box leaves (0.01, 0.99) see zero memory (still ranked by top-k)
        output_memory = t.enc_output_norm(t.enc_output(memory.masked_fill(~valid, 0.0)))
        last = self.config.dec_layers
        enc_class = self.class_embed[last](output_memory)
        enc_coord_unact = self.bbox_embed[last](output_memory) + proposals
        top = torch.topk(enc_class[..., 0], self.num_queries, dim=1)[1]
        coords_unact = torch.gather(enc_coord_unact, 1, top.unsqueeze(-1).repeat(1, 1, 4))
        # the official code hard-codes 128 features (= d/2 for d = 256); d/2 keeps smaller widths working
        embed = proposal_position_embedding(coords_unact, self.config.hidden_dim // 2)
        pos_trans = t.pos_trans_norm(t.pos_trans(embed))
        query_pos, tgt = torch.split(pos_trans, self.config.hidden_dim, dim=2)
        return dict(
            tgt=tgt,
            query_pos=query_pos,
            reference_points=coords_unact.sigmoid(),
            enc_outputs_class=enc_class,
            enc_outputs_coord_unact=enc_coord_unact,
            topk_indices=top,
        )

    def decode(self, tgt, query_pos, reference_points, memory, spatial_shapes):
        levels = len(spatial_shapes)
        hs, head_references = [], []
        refine = self.transformer.decoder.bbox_embed
        for lid, layer in enumerate(self.transformer.decoder.layers):
            head_references.append(reference_points)
            ref_input = reference_points[:, :, None].expand(-1, -1, levels, -1)
            tgt = layer(tgt, query_pos, ref_input, memory, spatial_shapes)
            hs.append(tgt)
            if refine is not None:
                reference_points = refine_reference(refine[lid], tgt, reference_points).detach()
        return hs, head_references

    def head(self, layer_index, hs, reference):
        logits = self.class_embed[layer_index](hs)
        delta = self.bbox_embed[layer_index](hs)
        reference = inverse_sigmoid(reference)
        if reference.shape[-1] == 4:
            boxes = delta + reference
        else:
            boxes = torch.cat((delta[..., :2] + reference, delta[..., 2:]), -1)
        return logits, boxes.sigmoid()

    def encoder_memory(self, images):
        srcs = self.level_features(self.backbone_features(images))
        src, pos, spatial_shapes = self.flatten_levels(srcs, self.position_encodings(srcs))
        return self.encode(src, pos, spatial_shapes), spatial_shapes

    def forward(self, images):
        memory, spatial_shapes = self.encoder_memory(images)
        queries = self.decoder_queries(memory, spatial_shapes)
        hs, refs = self.decode(
            queries["tgt"], queries["query_pos"], queries["reference_points"], memory, spatial_shapes
        )
        logits, boxes = self.head(len(hs) - 1, hs[-1], refs[-1])
        return {"pred_logits": logits, "pred_boxes": boxes}
