"""UP-DETR (DETR R50-C5 with a query-patch branch) for inference.

API: UPDETR(config); load_official_state_dict(sd) (strict); forward(images [B,3,H,W], patches=None)
-> {'pred_logits' [B, Q, num_classes+1], 'pred_boxes' [B, Q, 4] sigmoid cxcywh} of the last decoder layer.
- 'pretrain' (patch2query present): patches [B, K, 3, h, w] (normalized like the image, 128x128 in the
  official pipeline) are required; Q = K * num_queries // num_patches. Each patch's GAP(C5) feature goes
  through patch2query and is repeated over its group of consecutive queries (repeat_interleave), then
  added to query_embed[:Q]; the decoder self-attention gets the official additive mask cut to [:Q, :Q].
- 'detection' (plain DETR checkpoint): patches must be None; query_pos = query_embed, Q = num_queries.
Stages: image_features(images) -> C5; encode_image(images) -> (memory [S,B,d], pos [S,B,d]) which does not
depend on the patches; patch_queries(patches) -> query_pos [Q, B, d]; decode(memory, pos, query_pos) ->
hs [Q, B, d]; head(hs) -> (logits, boxes) batch-first. feature_align (feature reconstruction) is loaded but
not used for detections.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .backbone import Backbone
from .deformable_transformer import MLP
from .detr_transformer import DetrTransformer
from .position_encoding import sine_position_encoding
from .state_dict import load_strict


def group_attention_mask(num_queries: int, num_patches: int):
    """The official fixed mask: 0 inside each block of num_queries // num_patches queries, -inf elsewhere.

    The official loop runs over range(num_queries // num_patches) blocks (not num_patches); reproduced as is.
    """
    per_patch = num_queries // num_patches
    mask = torch.full((num_queries, num_queries), float("-inf"))
    for i in range(per_patch):
        mask[i * per_patch : (i + 1) * per_patch, i * per_patch : (i + 1) * per_patch] = 0
    return mask


class UPDETR(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.pretrain = config.variant == "pretrain"
        self.num_queries = config.num_queries
        self.transformer = DetrTransformer(
            d, config.nheads, config.enc_layers, config.dec_layers, config.dim_feedforward, config.pre_norm
        )
        self.class_embed = nn.Linear(d, config.num_classes + 1)
        self.bbox_embed = MLP(d, d, 4, 3)
        self.query_embed = nn.Embedding(config.num_queries, d)
        backbone = Backbone(config.backbone, config.dilation, ("layer4",))
        self.input_proj = nn.Conv2d(backbone.num_channels[-1], d, kernel_size=1)
        self.backbone = nn.ModuleList([backbone])
        if self.pretrain:
            self.num_patches = config.num_patches
            self.patch2query = nn.Linear(backbone.num_channels[-1], d)
            if config.feature_recon:
                self.feature_align = MLP(d, d, backbone.num_channels[-1], 2)
            self.register_buffer(
                "attention_mask", group_attention_mask(config.num_queries, config.num_patches), persistent=False
            )

    def load_official_state_dict(self, state_dict):
        load_strict(self, state_dict)
        return self

    def image_features(self, images):
        return self.backbone[0](images)[-1]

    def encode_image(self, images):
        src = self.input_proj(self.image_features(images))
        b, d, h, w = src.shape
        pos = sine_position_encoding(b, h, w, d // 2, offset=0.0, device=src.device)
        memory = self.transformer.encode(src.flatten(2).permute(2, 0, 1), pos.flatten(2).permute(2, 0, 1))
        return memory, pos.flatten(2).permute(2, 0, 1)

    def patch_features(self, patches):
        """[B, K, 3, h, w] -> GAP(C5) [B*K, C]."""
        return F.adaptive_avg_pool2d(self.image_features(patches.flatten(0, 1)), 1).flatten(1)

    def queries_for(self, num_patch_images: int) -> int:
        return num_patch_images * self.num_queries // self.num_patches

    def patch_queries(self, patches):
        b, k = patches.shape[:2]
        if k > self.num_patches:
            raise ValueError(f"at most num_patches={self.num_patches} query patches, got {k}")
        q = self.queries_for(k)
        feat = self.patch2query(self.patch_features(patches)).view(b, k, -1)
        feat = feat.repeat_interleave(self.num_queries // self.num_patches, dim=1).permute(1, 0, 2)
        return feat + self.query_embed.weight[:q].unsqueeze(1).repeat(1, b, 1)

    def decode(self, memory, pos, query_pos, tgt_mask=None):
        tgt = torch.zeros_like(query_pos)
        return self.transformer.decode(tgt, memory, pos, query_pos, tgt_mask)

    def head(self, hs):
        hs = hs.transpose(0, 1)
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid()

    def forward(self, images, patches=None):
        memory, pos = self.encode_image(images)
        if self.pretrain:
            if patches is None:
                raise ValueError("the UP-DETR pretraining model needs query patches [B, K, 3, h, w]")
            query_pos = self.patch_queries(patches)
            q = query_pos.shape[0]
            mask = self.attention_mask[:q, :q]
        else:
            if patches is not None:
                raise ValueError("this UP-DETR checkpoint has no query-patch branch (patch2query)")
            query_pos = self.query_embed.weight.unsqueeze(1).repeat(1, images.shape[0], 1)
            mask = None
        logits, boxes = self.head(self.decode(memory, pos, query_pos, mask))
        return {"pred_logits": logits, "pred_boxes": boxes}
