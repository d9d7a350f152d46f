"""Detector v3: v2b (model_b.py) with SSDLite MobileNetV2 (teacher/ssdlite.py) in CenterNet's place: the encoder
reads three SSDLite taps and the two-stage proposals are SSDLite's own detections (ssd_proposals.py).

Why: v2b re-scores CenterNet's peaks, each with CenterNet's class, and the "first photos" gallery stopped at 26/39
because CenterNet has no peak of the right class on the misses; SSDLite alone gets 35/39 there, and its whole graph
costs on WASM what v2b's backbone + neck + stride-4 heads cost (README-detector-v2.md section 6).

Inputs (what SsdViewCache.features / the package's encoder_input make from a 300x300 picture, 0-255):
  taps   expanded_conv_13/expand (576 ch, 19x19: what SSDLite's first box predictor reads), Conv_1 (1280 ch,
         10x10) and layer_19_2_Conv2d_2 (512 ch, 5x5): the encoder's three levels (486 tokens; v2b has 2,100);
  boxes  [B,1917,4] decoded anchor boxes, xyxy 0-1; logits [B,1917,80] the 80 classes' logits.
Everything else is v2b's: one query per proposal (content = encoder memory at the anchor's token + score_embed of
the 80 sigmoids + label_embed of its class; reference = its box), class logits = base (SSDLite's logit on the
proposal's class, other_class_logit elsewhere) + a zero-initialised residual, box heads' last layers zero: step 0
outputs SSDLite's Fast-NMS top-k.

API
  SSD_TAPS: graph node names of the three taps; TAP_CHANNELS
  build_model_v3(config) -> DeformableDETRV3
  forward_train(model, inputs) -> ([(logits, boxes)] per decoder layer, None); inputs = [tap19, tap10, tap5,
      boxes, logits] (model_b's forward: the model's backbone_features / proposals / proposal_queries differ)
  forward_eval(model, inputs, proposals=None) -> (logits, boxes) of the last layer
  load_shared: model_b.load_shared (input_proj's shapes differ and are skipped)
"""
from __future__ import annotations

import torch

from ..models.deformable_transformer import inverse_sigmoid, proposal_position_embedding
from . import model_b
from .model_b import DeformableDETRB, load_shared  # noqa: F401  (load_shared: the v3 init uses v2b's)
from .ssd_proposals import ENCODER_GRIDS, anchor_tokens, fast_nms_topk
from .verifier import ProposalVerifier, verified

SSD_TAPS = (
    "FeatureExtractor/MobilenetV2/expanded_conv_13/expand/Relu6",
    "FeatureExtractor/MobilenetV2/Conv_1/Relu6",
    "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512/Relu6",
)
TAP_CHANNELS = (576, 1280, 512)


class DeformableDETRV3(DeformableDETRB):
    def __init__(self, config, feature_size: int, proposals: dict):
        super().__init__(config, feature_size, proposals["other_class_logit"], channels=TAP_CHANNELS)
        self.candidates = int(proposals.get("candidates", 300))
        self.nms_iou = float(proposals.get("iou", 0.5))
        # "proposal_class": the proposal's own class starts at SSDLite's logit, the other 79 at other_class_logit
        # (the shipped v3); "anchor": all 80 start at the anchor's SSDLite logits, so a query can move to another
        # class SSDLite also saw there (ship/detector_v2b_package.proposal_tensors exports either)
        self.base = proposals.get("base_logits", "proposal_class")
        if self.base not in ("proposal_class", "anchor"):
            raise ValueError(f"proposals.base_logits {self.base!r}: 'proposal_class' or 'anchor'")
        # "per_class" (the shipped v3): Fast NMS over (anchor, class) pairs; "class_agnostic": over anchors, one
        # query per box (ssd_proposals.py), meant with base_logits "anchor"
        self.nms = proposals.get("nms", "per_class")
        if self.nms not in ("per_class", "class_agnostic"):
            raise ValueError(f"proposals.nms {self.nms!r}: 'per_class' or 'class_agnostic'")
        self.register_buffer("anchor_token", anchor_tokens(ENCODER_GRIDS), persistent=False)
        # {"taps": [0, 1], "mode": "logit"} (detector v3v research, not shipped): a linear check of each proposal's
        # class on those taps, added to its logit (verifier.py)
        verifier = proposals.get("verifier")
        self.verifier_taps = tuple(verifier["taps"]) if verifier else ()
        self.verifier = (
            ProposalVerifier(
                [TAP_CHANNELS[i] for i in self.verifier_taps], config.num_classes, verifier.get("mode", "logit")
            )
            if verifier
            else None
        )

    def backbone_features(self, inputs):
        """The three taps; model_b.forward_train's `levels` are the v3 inputs (taps, boxes, logits)."""
        return list(inputs[:3])

    def proposals(self, inputs, verify: bool = True):
        p = self.raw_proposals(inputs)
        if self.verifier is None or not verify:
            return p
        delta = self.verifier([inputs[i] for i in self.verifier_taps], p)
        return verified(p, delta, self.other_class_logit)

    def raw_proposals(self, inputs):
        boxes, logits = inputs[3], inputs[4]
        return fast_nms_topk(
            boxes,
            logits,
            self.anchor_token,
            self.num_queries,
            self.candidates,
            self.nms_iou,
            self.other_class_logit,
            class_agnostic=self.nms == "class_agnostic",
        )

    def base_logits(self, p):
        return p.class_logits if self.base == "anchor" else super().base_logits(p)

    def proposal_queries(self, memory, p):
        d = self.config.hidden_dim
        content = torch.gather(memory, 1, p.position[..., None].expand(-1, -1, d))
        content = content + self.score_embed(p.class_logits.sigmoid()) + self.label_embed(p.labels)
        t = self.transformer
        embed = proposal_position_embedding(inverse_sigmoid(p.boxes), d // 2)
        query_pos = t.pos_trans_norm(t.pos_trans(embed))[..., :d]
        return dict(tgt=content, query_pos=query_pos, reference_points=p.boxes)


def build_model_v3(config: dict) -> DeformableDETRV3:
    def construct(mc):
        if not mc.two_stage or mc.num_feature_levels != len(SSD_TAPS):
            raise ValueError(f"v3 is the two-stage model on the {len(SSD_TAPS)} SSDLite taps")
        return DeformableDETRV3(mc, config["feature_size"], config["model"]["proposals"])

    return model_b.build_with_proposals(config, construct)


def forward_train(model: DeformableDETRV3, inputs, proposals=None):
    return model_b.forward_train(model, inputs, proposals)


@torch.no_grad()
def forward_eval(model, inputs, proposals=None):
    return model_b.forward_eval(model, inputs, proposals)
