"""Shims standing in for the transformers infrastructure that a copy of the Hugging Face RT-DETR modeling code
(RTDetrForObjectDetection, RTDetrV2ForObjectDetection, RTDetrResNetBackbone) imports, so that copy runs on Debian's
torch 1.13 without the transformers package (used once, by tools/make_hf_rtdetr_fixture.py; see
webdetr_tools/export/hf_rtdetr_fixture.py for how the copy is made). Extends hf_shims (the Deformable-DETR ones).

What is shimmed (nothing numerical):
- ModelOutput, BaseModelOutput, BaseModelOutputWithNoAttention, BackboneOutput: hf_shims' dataclasses.
- PreTrainedModel: hf_shims' (nn.Module holding .config; post_init() a no-op: every weight is loaded afterwards) plus
  the .dtype property (float32).
- BackboneMixin: _init_backbone(config) sets stage_names / out_features / out_indices from the backbone config and
  .channels = num_features at out_indices (what transformers' BackboneMixin exposes).
- ACT2FN / ACT2CLS: relu, silu, gelu -> torch's nn.ReLU / nn.SiLU / nn.GELU (transformers' GELUActivation is
  nn.functional.gelu, exact erf, as nn.GELU()).
- compile_compatible_method_lru_cache: identity decorator (a cache only); torch_int: int;
  is_torchdynamo_compiling: False; center_to_corners_format: (cx, cy, w, h) -> (x0, y0, x1, y1) as transformers'
  image_transforms._center_to_corners_format_torch.
- Config: hf_shims.Config with transformers' RTDetrConfig / RTDetrV2Config / RTDetrResNetConfig defaults for the
  attributes the code reads (config_from_json).
"""
import torch
from torch import nn

from .hf_shims import (  # noqa: F401  (re-exported for the copied code)
    BackboneOutput,
    BaseModelOutput,
    BaseModelOutputWithNoAttention,
    Config,
    ModelOutput,
)
from .hf_shims import PreTrainedModel as _PreTrainedModel


class PreTrainedModel(_PreTrainedModel):
    @property
    def dtype(self):
        return torch.float32


class BackboneMixin:
    def _init_backbone(self, config):
        self.stage_names = list(config.stage_names)
        self.out_features = list(config.out_features)
        self.out_indices = [self.stage_names.index(name) for name in self.out_features]

    @property
    def channels(self):
        return [self.num_features[i] for i in self.out_indices]


class _Acts(dict):
    def __getitem__(self, name):
        return {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}[name]


ACT2CLS = _Acts()


class _ActInstances(dict):
    def __getitem__(self, name):
        return ACT2CLS[name]()


ACT2FN = _ActInstances()


def compile_compatible_method_lru_cache(*args, **kwargs):
    return lambda fn: fn


def torch_int(x):
    return int(x)


def is_torchdynamo_compiling():
    return False


def center_to_corners_format(bboxes_center):
    center_x, center_y, width, height = bboxes_center.unbind(-1)
    bbox_corners = torch.stack(
        [(center_x - 0.5 * width), (center_y - 0.5 * height), (center_x + 0.5 * width), (center_y + 0.5 * height)],
        dim=-1,
    )
    return bbox_corners


# transformers' defaults for what the copied code reads (configuration_rt_detr.py, configuration_rt_detr_v2.py,
# configuration_rt_detr_resnet.py)
RTDETR_DEFAULTS = {
    "layer_norm_eps": 1e-5,
    "batch_norm_eps": 1e-5,
    "freeze_backbone_batch_norms": True,
    "d_model": 256,
    "encoder_hidden_dim": 256,
    "encoder_in_channels": [512, 1024, 2048],
    "feat_strides": [8, 16, 32],
    "encoder_layers": 1,
    "encoder_ffn_dim": 1024,
    "encoder_attention_heads": 8,
    "dropout": 0.0,
    "activation_dropout": 0.0,
    "encode_proj_layers": [2],
    "positional_encoding_temperature": 10000,
    "encoder_activation_function": "gelu",
    "activation_function": "silu",
    "eval_size": None,
    "normalize_before": False,
    "hidden_expansion": 1.0,
    "num_queries": 300,
    "decoder_in_channels": [256, 256, 256],
    "decoder_ffn_dim": 1024,
    "num_feature_levels": 3,
    "decoder_n_points": 4,
    "decoder_layers": 6,
    "decoder_attention_heads": 8,
    "decoder_activation_function": "relu",
    "attention_dropout": 0.0,
    "num_denoising": 100,
    "learn_initial_query": False,
    "anchor_image_size": None,
    "disable_custom_kernels": True,
    "decoder_n_levels": 3,
    "decoder_offset_scale": 0.5,
    "decoder_method": "default",
}
RESNET_DEFAULTS = {
    "num_channels": 3,
    "embedding_size": 64,
    "hidden_sizes": [256, 512, 1024, 2048],
    "depths": [3, 4, 6, 3],
    "layer_type": "bottleneck",
    "hidden_act": "relu",
    "downsample_in_first_stage": False,
    "downsample_in_bottleneck": False,
    "out_features": ["stage2", "stage3", "stage4"],
}


def config_from_json(config):
    """A shims.Config from a config.json dict: transformers' defaults, then the file's values."""
    backbone = {**RESNET_DEFAULTS, **(config.get("backbone_config") or {})}
    backbone.setdefault("stage_names", ["stem"] + [f"stage{i}" for i in range(1, len(backbone["depths"]) + 1)])
    values = {**RTDETR_DEFAULTS, **config}
    values["backbone_config"] = Config(**backbone)
    values["num_labels"] = len(config["id2label"])
    values["num_attention_heads"] = values["encoder_attention_heads"]
    return Config(**values)
