"""One-shot detector: a small Deformable-DETR over frozen CenterNet MobileNetV3 features plus the UP-DETR
query-patch branch ("find more like this box").

Image pipeline (does not depend on the patches; an exporter's "image" graph):
  backbone taps at strides 8/16/32 (96/88/480 ch, input 0-255 stretched to size x size)
  -> input_proj[l] = Conv1x1(C_l, d) + GroupNorm(32, d) per level (3 levels, no extra level)
  -> sine position encoding (offset 0.5, as Deformable-DETR) + level_embed
  -> encoder: enc_layers x DeformableEncoderLayer (MSDeformAttn, n_levels 3, n_points)  -> memory [B, S, d]
Patch pipeline (an exporter's "patches" graph, reading the image memory):
  K query patches -> descriptors [B, K, 664] (patches.py), by config.patch_descriptor:
    'crop' (UP-DETR): PIL crop + bilinear resize to P x P, 0-255 -> the same frozen backbone -> GAP per tap;
    'roi': the image's own backbone taps pooled over each box (RoIAlign-style, roi_samples^2 bilinear
           samples per tap): no backbone pass per patch, so a re-query costs about the decoder alone.
  -> patch2query Linear(664, d) (+ patch_scale Linear(2, d) of the patch's log width and height relative to its
     image, with config.patch_scale_input: a descriptor pooled over a box does not say how big the box was)
  -> queries: G = queries_per_patch learned slots per patch, shared by all patches
     (query_embed [G, 2d] split into pos / tgt like Deformable-DETR). Group k's queries are
     query_pos = pos_slot + patch_k (the patch re-enters every decoder layer through query_pos, as in
     UP-DETR) and tgt = tgt_slot; reference points = sigmoid(Linear(pos_slot)): per slot, independent of
     the patch (so they are constants of the model for export).
     Training only: with probability mask_ratio a query's patch term is zeroed (UP-DETR's mask_ratio).
  -> decoder: dec_layers x DeformableDecoderLayer whose self-attention gets an additive block-diagonal
     mask [K*G, K*G] (0 inside a group, -inf across): a patch's queries never see another patch's.
  -> heads, shared by all decoder layers: class_embed Linear(d, 1) = "matches the patch" logit
     (sigmoid + focal loss, Deformable-DETR style; score = sigmoid), bbox_embed MLP(d, d, 4, 3) added to
     inverse_sigmoid(reference) on the centre (plain Deformable-DETR), sigmoid cxcywh relative to the image.
Output per patch k: queries [k*G, (k+1)*G). Since slots are shared, K can be anything (max_patches is
only the training/export limit); a group's result does not depend on the other patches.

What an exporter must add (the two pipelines above): the CenterNet backbone graph (tfjs_graph module,
0-255 input, no mean/std) in both graphs; the crop (WGSL 'pil' crop mode, output 0-255, not normalized);
the block-diagonal mask built for a dynamic K (or a fixed max_patches mask sliced to K*G); the reference
points are constant per slot (precompute, tile K times); position encodings and level_embed are
constants for the fixed input size; deformable attention in 3 levels (our WGSL kernel, L=3, P=n_points).

API
  OneShotConfig (dataclass; from_dict / to_dict), OneShotDETR(config)
  model.encode(levels) -> memory [B, S, d]; model.spatial_shapes(levels)
  model.patch_feature(patch_desc [B, K, 664], patch_boxes [B, K, 4] xyxy relative, or None) -> [B, K, d]
  model.patch_queries(patch_desc, patch_boxes=None) -> (query_pos, tgt, reference_points, attn_mask)
  model.decode(memory, spatial_shapes, patch_desc, patch_boxes=None) -> (logits [layers, B, K*G, 1], boxes [..., 4])
  model.match_logits(levels, patch_desc, logits, boxes, patch_boxes)
      -> the last layer's calibrated logits (score_calibration)
  model.calibration_inputs(levels, patch_desc, logits, boxes, patch_boxes)
      -> [B, K*G, 1 + taps (+ 1) (+ 1)] what the calibration weighs
  duplicate_overlap(logits, boxes_xyxy, G) -> [B, K*G, 1] each box's IoU with a stronger box of its patch
  scale_difference(boxes, patch_boxes_xyxy, G) -> [B, K*G, 1] |log(box area / patch area)|
  model(levels, patch_desc, patch_boxes=None) -> {'pred_logits', 'pred_boxes', 'aux': [per earlier layer]}
  load_checkpoint(path) -> model (eval); ModelDetector(model, backbone, samples, cached_levels(cache, set, ids))
  for evaluation/oneshot_ap.run_protocol.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..models.deformable_transformer import (
    MLP,
    DeformableDecoderLayer,
    DeformableEncoderLayer,
    encoder_reference_points,
    inverse_sigmoid,
)
from ..models.position_encoding import sine_position_encoding
from ..training.boxes import box_area, box_iou
from ..training.boxes import cxcywh_to_xyxy as box_cxcywh_to_xyxy  # noqa: F401 (this module's callers import it)


@dataclass
class OneShotConfig:
    channels: list = field(default_factory=lambda: [96, 88, 480])
    d_model: int = 128
    nheads: int = 8
    enc_layers: int = 3
    dec_layers: int = 3
    dim_feedforward: int = 512
    n_points: int = 4
    queries_per_patch: int = 20
    max_patches: int = 10
    patch_size: int = 128
    image_size: int = 320
    mask_ratio: float = 0.1
    patch_descriptor: str = "crop"  # 'crop' (backbone on a P x P crop) | 'roi' (pool the image's taps)
    roi_samples: int = 8  # 'roi': bilinear samples per box side
    # 'roi' only, fitted after training (oneshot/calibration.py): [w_logit, w_cos_s8, w_cos_s16, w_cos_s32,
    # (w_overlap if calibration_overlap,) (w_scale if calibration_scale,) bias]
    score_calibration: list | None = None
    calibration_overlap: bool = False  # the calibration also weighs each box's overlap with a stronger box of its patch
    calibration_scale: bool = False  # ... and |log(box area / patch area)| (scale_difference; needs the patch boxes)
    # 'roi' only: the patch's log width and height (relative to its image) join its query through patch_scale
    patch_scale_input: bool = False
    # 'roi' only: box sizes are predicted relative to the patch's (the width/height logit is the head's delta plus
    # logit(patch side) + 2, so the initial bias of -2 gives the patch's own size): a small patch starts small
    box_size_prior: bool = False

    # Keys that change no parameter: a checkpoint trained with other values can start a run (train.init).
    # image_size too: the position encodings are sines of normalised coordinates, nothing learned has its shape.
    WEIGHT_NEUTRAL = (
        "image_size",
        "max_patches",
        "patch_size",
        "mask_ratio",
        "patch_descriptor",
        "roi_samples",
        "score_calibration",
        "calibration_overlap",
        "calibration_scale",
        "box_size_prior",
    )
    # Keys that may turn on from a train.init checkpoint without them: they add parameters (these state-dict
    # prefixes) initialised to zero, so the run starts from the checkpoint's exact outputs.
    ADDS_ZERO_PARAMETERS = {"patch_scale_input": ("patch_scale.",)}

    @classmethod
    def from_dict(cls, d: dict) -> "OneShotConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        config = cls(**d)
        if config.patch_descriptor not in ("crop", "roi"):
            raise ValueError(f"patch_descriptor must be 'crop' or 'roi', not {config.patch_descriptor!r}")
        for key in ("patch_scale_input", "box_size_prior"):
            if getattr(config, key) and config.patch_descriptor != "roi":
                raise ValueError(f"{key} needs patch_descriptor 'roi' (the patch boxes are its input)")
        if config.score_calibration is not None:
            inputs = 1 + len(config.channels) + int(config.calibration_overlap) + int(config.calibration_scale)
            if config.patch_descriptor != "roi" or len(config.score_calibration) != inputs + 1:
                raise ValueError(
                    "score_calibration needs patch_descriptor 'roi' and one weight for the logit, one per "
                    "tap, one for the overlap when calibration_overlap, one for the scale when "
                    "calibration_scale, and a bias"
                )
        return config

    def to_dict(self) -> dict:
        return asdict(self)


class MaskedDecoderLayer(DeformableDecoderLayer):
    """DeformableDecoderLayer (same parameter names) whose self-attention takes an additive mask."""

    def forward(self, tgt, query_pos, reference_points, memory, spatial_shapes, attn_mask=None):
        q = (tgt + query_pos).transpose(0, 1)
        out = self.self_attn(q, q, tgt.transpose(0, 1), attn_mask=attn_mask)[0].transpose(0, 1)
        tgt = self.norm2(tgt + out)
        attn_out = self.cross_attn(tgt + query_pos, reference_points, memory, spatial_shapes)
        return self.finish(tgt, attn_out)


def group_mask(num_patches: int, per_patch: int) -> torch.Tensor:
    n = num_patches * per_patch
    group = torch.arange(n) // per_patch
    mask = torch.full((n, n), float("-inf"))
    mask[group[:, None] == group[None, :]] = 0.0
    return mask


class OneShotDETR(nn.Module):
    def __init__(self, config: OneShotConfig):
        super().__init__()
        self.config = c = config
        d, levels = c.d_model, len(c.channels)
        self.input_proj = nn.ModuleList(nn.Sequential(nn.Conv2d(ch, d, 1), nn.GroupNorm(32, d)) for ch in c.channels)
        self.level_embed = nn.Parameter(torch.empty(levels, d).normal_())
        self.encoder = nn.ModuleList(
            DeformableEncoderLayer(d, c.dim_feedforward, levels, c.nheads, c.n_points) for _ in range(c.enc_layers)
        )
        self.decoder = nn.ModuleList(
            MaskedDecoderLayer(d, c.dim_feedforward, levels, c.nheads, c.n_points) for _ in range(c.dec_layers)
        )
        self.query_embed = nn.Embedding(c.queries_per_patch, 2 * d)
        self.reference_points = nn.Linear(d, 2)
        self.patch2query = nn.Linear(sum(c.channels), d)
        self.class_embed = nn.Linear(d, 1)
        self.bbox_embed = MLP(d, d, 4, 3)
        self.patch_scale = nn.Linear(2, d) if c.patch_scale_input else None
        self._reset_parameters()

    def _reset_parameters(self):
        # Deformable-DETR's initialisation of the parts that matter for convergence
        for attn in [layer.self_attn for layer in self.encoder] + [layer.cross_attn for layer in self.decoder]:
            attn.reset_parameters()
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.constant_(proj[0].bias, 0)
        nn.init.xavier_uniform_(self.reference_points.weight, gain=1.0)
        nn.init.constant_(self.reference_points.bias, 0.0)
        prior = 0.01
        nn.init.constant_(self.class_embed.bias, -float(np.log((1 - prior) / prior)))
        nn.init.constant_(self.bbox_embed.layers[-1].weight, 0)
        nn.init.constant_(self.bbox_embed.layers[-1].bias, 0)
        nn.init.constant_(self.bbox_embed.layers[-1].bias[2:], -2.0)
        if self.patch_scale is not None:  # zero: turning it on leaves a trained model's outputs as they were
            nn.init.constant_(self.patch_scale.weight, 0.0)
            nn.init.constant_(self.patch_scale.bias, 0.0)

    # --- image pipeline ----------------------------------------------------------------------------
    @staticmethod
    def spatial_shapes(levels):
        return [(int(f.shape[2]), int(f.shape[3])) for f in levels]

    def encode(self, levels):
        srcs = [proj(f) for proj, f in zip(self.input_proj, levels)]
        shapes = self.spatial_shapes(srcs)
        half = self.config.d_model // 2
        src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos = torch.cat(
            [
                sine_position_encoding(s.shape[0], s.shape[2], s.shape[3], half, offset=0.5, device=s.device)
                .flatten(2)
                .transpose(1, 2)
                + self.level_embed[lvl].view(1, 1, -1)
                for lvl, s in enumerate(srcs)
            ],
            1,
        )
        ref = encoder_reference_points(shapes, src.shape[0], src.device)
        for layer in self.encoder:
            src = layer(src, pos, ref, shapes)
        return src

    # --- patch pipeline ----------------------------------------------------------------------------
    def patch_feature(self, patch_desc, patch_boxes=None):
        """[B, K, d], what a patch adds to its slots' query position: its descriptor [B, K, sum C] projected, plus
        (config.patch_scale_input) its log width and height from patch_boxes [B, K, 4] (xyxy relative to its image)
        projected. Why the size: a descriptor pooled over a box looks the same for a small box and a larger one on
        the same texture, and the model drew no box under ~22 px at 320 even for 7 px patches
        (tools/experiments/oneshot_ceiling.py, box_side_percentiles)."""
        feature = self.patch2query(patch_desc)
        if self.patch_scale is None:
            return feature
        if patch_boxes is None:
            raise ValueError("patch_scale_input: the queries take the patch sizes, pass patch_boxes")
        wh = (patch_boxes[..., 2:] - patch_boxes[..., :2]).clamp_min(1e-4)  # a zero-size patch stays finite
        return feature + self.patch_scale(wh.log())

    def patch_queries(self, patch_desc, patch_boxes=None):
        """patch_desc [B, K, sum C] (patch_boxes [B, K, 4]: patch_feature) -> query_pos, tgt [B, K*G, d], reference
        points [B, K*G, 2], mask."""
        b, k, _ = patch_desc.shape
        g, d = self.config.queries_per_patch, self.config.d_model
        pos_slot, tgt_slot = self.query_embed.weight.split(d, dim=1)
        patch = self.patch_feature(patch_desc, patch_boxes).repeat_interleave(g, dim=1)  # [B, K*G, d]
        if self.training and self.config.mask_ratio > 0:
            patch = patch * (torch.rand(b, k * g, 1, device=patch.device) > self.config.mask_ratio).float()
        query_pos = pos_slot.repeat(k, 1)[None] + patch
        tgt = tgt_slot.repeat(k, 1)[None].expand(b, -1, -1)
        reference = self.reference_points(pos_slot).sigmoid().repeat(k, 1)[None].expand(b, -1, -1)
        return query_pos, tgt, reference, group_mask(k, g).to(patch_desc.device)

    def size_reference(self, patch_boxes):
        """[B, K*G, 2] what box_size_prior adds to the width/height logits: logit(patch side) + 2, per query slot
        (the bbox head's initial bias is -2: a fresh head draws the patch's own size); zero without the prior."""
        if not self.config.box_size_prior:
            return 0.0
        if patch_boxes is None:
            raise ValueError("box_size_prior: box sizes are relative to the patch's, pass patch_boxes")
        wh = (patch_boxes[..., 2:] - patch_boxes[..., :2]).clamp(1e-3, 1 - 1e-3)
        # per-slot copies by expand + flatten (repeat_interleave over a dynamic K exports to an ONNX Loop)
        reference = (inverse_sigmoid(wh) + 2.0)[:, :, None]
        return reference.expand(-1, -1, self.config.queries_per_patch, -1).flatten(1, 2)

    def decode(self, memory, spatial_shapes, patch_desc, patch_boxes=None):
        query_pos, tgt, reference, mask = self.patch_queries(patch_desc, patch_boxes)
        ref_in = reference[:, :, None].expand(-1, -1, len(spatial_shapes), -1)
        ref_unact = inverse_sigmoid(reference)
        size_ref = self.size_reference(patch_boxes)
        logits, boxes = [], []
        for layer in self.decoder:
            tgt = layer(tgt, query_pos, ref_in, memory, spatial_shapes, mask)
            delta = self.bbox_embed(tgt)
            boxes.append(torch.cat((delta[..., :2] + ref_unact, delta[..., 2:] + size_ref), -1).sigmoid())
            logits.append(self.class_embed(tgt))
        return torch.stack(logits), torch.stack(boxes)

    def match_logits(self, levels, patch_desc, logits, boxes, patch_boxes=None):
        """The calibrated "matches the patch" logit of the last layer's boxes [B, K*G, 1]: the raw logit and the
        per-tap cosine between each box's RoI descriptor on the image and its patch's descriptor (and, with
        calibration_overlap, its overlap with a stronger box of its patch; with calibration_scale, how far its
        area is from its patch's: patch_boxes [B, K, 4] xyxy relative to the patch's image), combined linearly
        (config.score_calibration, a logistic fit on training pairs, oneshot/calibration.py), so that scores are
        comparable across pictures; the raw logit when the model has no calibration."""
        if self.config.score_calibration is None:
            return logits
        weights = torch.tensor(self.config.score_calibration, dtype=logits.dtype, device=logits.device)
        return (
            self.calibration_inputs(levels, patch_desc, logits, boxes, patch_boxes) @ weights[:-1, None] + weights[-1]
        )

    def calibration_inputs(self, levels, patch_desc, logits, boxes, patch_boxes=None):
        """[B, K*G, 1 + taps (+ 1) (+ 1)]: each box's raw logit, then per tap the cosine similarity of the box's RoI
        descriptor on the image (levels) and its patch's descriptor, then (config.calibration_overlap) its
        overlap with a stronger box of the same patch (duplicate_overlap), then (config.calibration_scale) the
        scale_difference of box and patch."""
        from .patches import roi_descriptors, tap_indicator

        # Channels first, [B, sum C, K*G]: the per-tap sums below are then one MatMul with no Transpose per tap
        xyxy = box_cxcywh_to_xyxy(boxes)
        box_desc = roi_descriptors(levels, xyxy.clamp(0, 1), self.config.roi_samples, channels_last=False)
        # Each patch's descriptor for its G slots. Expand + flatten: repeat_interleave over a dynamic K exports as
        # an ONNX Loop (host-side control flow in ORT web)
        query_desc = patch_desc.transpose(1, 2)[..., None].expand(-1, -1, -1, self.config.queries_per_patch).flatten(2)
        products = torch.stack([box_desc * query_desc, box_desc * box_desc, query_desc * query_desc], 1)
        sums = tap_indicator(self.config.channels).to(products) @ products  # [B, 3, taps, K*G]
        # F.cosine_similarity(eps=1e-6) up to rounding: dot / sqrt(max(|a|^2 |b|^2, eps^2))
        cosines = (sums[:, 0] / (sums[:, 1] * sums[:, 2]).clamp_min(1e-12).sqrt()).transpose(1, 2)
        extra = (
            [duplicate_overlap(logits, xyxy, self.config.queries_per_patch)] if self.config.calibration_overlap else []
        )
        if self.config.calibration_scale:
            if patch_boxes is None:
                raise ValueError("calibration_scale weighs each box's size against its patch's: pass patch_boxes")
            extra.append(scale_difference(boxes, patch_boxes, self.config.queries_per_patch))
        return torch.cat([logits, cosines, *extra], -1)

    def forward(self, levels, patch_desc, patch_boxes=None):
        memory = self.encode(levels)
        logits, boxes = self.decode(memory, self.spatial_shapes(levels), patch_desc, patch_boxes)
        aux = [{"pred_logits": lg, "pred_boxes": bx} for lg, bx in zip(logits[:-1], boxes[:-1])]
        return {"pred_logits": logits[-1], "pred_boxes": boxes[-1], "aux": aux}


def duplicate_overlap(logits, xyxy, per_patch: int):
    """[B, K*G, 1]: per box (xyxy relative to the image, unclamped), the largest IoU with a box of the same
    patch's group whose raw logit is higher (0 for the group's strongest box). Why: the decoder answers one object
    with several of a group's slots, or with a part of it; those extra boxes are false alarms the protocol counts,
    and this marks them (held-out AP50 rose on every set with it, raccoon most:
    tools/experiments/results/oneshot_experiment_overlap_calibration.json). IoU on relative boxes does not change
    under the stretch to pixels. Shapes stay dynamic in K (reshape by G)."""
    b = logits.shape[0]
    groups = xyxy.reshape(b, -1, per_patch, 4)
    score = logits.reshape(b, -1, per_patch)
    iou, _ = box_iou(groups, groups)  # [B, K, G, G]
    stronger = (score[..., None, :] > score[..., :, None]).to(iou.dtype)  # [.., i, j]: box j's logit beats box i's
    return (iou * stronger).amax(-1).reshape(b, -1, 1)


def scale_difference(boxes, patch_boxes, per_patch: int):
    """[B, K*G, 1]: |log(box area / its patch's area)|, boxes [B, K*G, 4] cxcywh and patch_boxes [B, K, 4] xyxy,
    both relative to their images (areas floored at 1e-6). Why: a look-alike in the same picture is usually
    about the patch's size; boxes on other things often are not (held-out coco128 AP50 +1.5 with it, the other
    sets within 0.6: tools/experiments/results/oneshot_experiment_scale_calibration.json)."""
    patch_area = box_area(patch_boxes).clamp_min(1e-6)
    patch_area = patch_area[..., None].expand(-1, -1, per_patch).flatten(1)  # [B, K*G]: each patch for its G slots
    area = (boxes[..., 2] * boxes[..., 3]).clamp_min(1e-6)  # cxcywh: w * h
    return (area / patch_area).log().abs()[..., None]


def load_checkpoint(path):
    state = torch.load(path, map_location="cpu")
    model = OneShotDETR(OneShotConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval()


def cached_levels(cache, name, ids):
    """ModelDetector's levels from the features cache: image index -> [[1, C, H, W] per tap] of set `name`."""
    return lambda i: [f[None] for f in cache.features(name, ids[i])]


class ModelDetector:
    """run_protocol detector: query -> patch descriptor (its crop through the backbone for 'crop' models, the
    query image's taps pooled over its box for 'roi'); target -> features -> memory (kept per image); the
    last layer's boxes ranked by the (calibrated) match score. `levels` gives an image's backbone taps (index
    into samples -> [[1, C, H, W] per tap]): cached_levels reads the features cache; with the exact query box.
    webdetr_tools/oneshot/runtime_path.RuntimePathDetector gives the runtime's input path instead (taps of the
    PIL-stretched image, whole-pixel boxes, its own crop)."""

    clamp_boxes = True  # output boxes clamped to the image

    def __init__(self, model, backbone, samples, levels, max_detections: int = 20):
        self.model, self.backbone, self.samples, self.levels = model, backbone, samples, levels
        self.max_detections = max_detections
        self._memory = {}

    def encoding(self, levels):
        """(encoder memory, spatial shapes) of one view's taps: what relative_detections decodes against."""
        return self.model.encode(levels), self.model.spatial_shapes(levels)

    def memory(self, i):
        if i not in self._memory:
            self._memory[i] = self.encoding(self.levels(i))
        return self._memory[i]

    def patch_box(self, query):
        """[1, 1, 4] the query's box xyxy relative to its image."""
        s = self.samples[query.image]
        box = torch.tensor(query.box, dtype=torch.float32) / torch.tensor([s.width, s.height, s.width, s.height])
        return box.clamp(0, 1).view(1, 1, 4)

    def crop(self, query):
        """[1, 3, P, P] 'crop' models' query patch, 0-255."""
        from ..data.datasets import read_rgb
        from .patches import crop_patches

        return crop_patches(
            read_rgb(self.samples[query.image].image), np.array(query.box)[None], self.model.config.patch_size
        )

    def descriptor(self, query):
        from .patches import pooled_features, roi_descriptors

        config = self.model.config
        if config.patch_descriptor == "roi":
            return roi_descriptors(self.levels(query.image), self.patch_box(query), config.roi_samples)
        return pooled_features(self.backbone(self.crop(query)))[None]  # [1, 1, 664]

    def relative_detections(self, levels, memory, desc, patch_box):
        """(boxes [Q, 4] xyxy relative to the view the levels were taken from, match scores [Q]) of every query."""
        memory, shapes = memory
        logits, boxes = self.model.decode(memory, shapes, desc, patch_box)
        scores = self.model.match_logits(levels, desc, logits[-1], boxes[-1], patch_box)[0, :, 0].sigmoid()
        return box_cxcywh_to_xyxy(boxes[-1, 0]), scores

    @torch.no_grad()
    def __call__(self, query, targets):
        desc, patch_box = self.descriptor(query), self.patch_box(query)
        outs = []
        for t in targets:
            xyxy, scores = self.relative_detections(self.levels(t), self.memory(t), desc, patch_box)
            if self.clamp_boxes:
                xyxy = xyxy.clamp(0, 1)
            ts = self.samples[t]
            xyxy = xyxy * torch.tensor([ts.width, ts.height, ts.width, ts.height], dtype=torch.float32)
            order = scores.argsort(descending=True)[: self.max_detections]
            outs.append((xyxy[order].numpy(), scores[order].numpy()))
        return outs
