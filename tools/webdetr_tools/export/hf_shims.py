"""Shims standing in for the transformers / timm infrastructure that a copy of the Hugging Face Deformable-DETR
modeling code imports, so that copy runs on Debian's torch 1.13 without the transformers package (used once, by
tools/make_hf_fixture.py; see webdetr_tools/export/hf_fixture.py for how the copy is made).

What is shimmed (nothing numerical):
- ModelOutput: a dataclass whose int indexing returns the non-None fields in order (HF's ModelOutput.to_tuple()).
- PreTrainedModel: nn.Module holding .config; post_init() is a no-op (all weights are loaded afterwards).
- GradientCheckpointingLayer -> nn.Module; auto_docstring / use_kernel_forward_from_hub -> identity decorators.
- ACT2FN: {'relu': nn.ReLU()} (the only activation the configs use).
- meshgrid: torch.meshgrid (pytorch_utils.meshgrid is the same wrapper).
- Config: attribute bag with HF's defaults for the attributes the code reads (use_return_dict, output_*).
- load_backbone(config): ResNetBackbone(config.backbone_config) (the AutoBackbone lookup for model_type 'resnet').
- timm.create_model(name, features_only=True, out_indices, in_chans): torchvision's resnet of that name with timm's
  module names (conv1, bn1, act1, maxpool, layer1..4; timm's resnet18/34/50/101 have torchvision's layout) and a
  feature_info.channels(); feature index 0 = act1, 1..4 = layer1..4 as in timm.
"""
import dataclasses

import torch
import torchvision
from torch import nn


class ModelOutput:
    def __getitem__(self, index):
        if isinstance(index, str):
            return getattr(self, index)
        return self.to_tuple()[index]

    def to_tuple(self):
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None)


@dataclasses.dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor = None
    hidden_states: tuple = None
    attentions: tuple = None


@dataclasses.dataclass
class BaseModelOutputWithNoAttention(ModelOutput):
    last_hidden_state: torch.Tensor = None
    hidden_states: tuple = None


@dataclasses.dataclass
class BackboneOutput(ModelOutput):
    feature_maps: tuple = None
    hidden_states: tuple = None
    attentions: tuple = None


class PreTrainedModel(nn.Module):
    def __init__(self, config, *args, **kwargs):
        super().__init__()
        self.config = config

    def post_init(self):
        pass


GradientCheckpointingLayer = nn.Module
BackboneMixin = object


def auto_docstring(obj=None, **kwargs):
    if obj is None:
        return lambda o: o
    return obj


def use_kernel_forward_from_hub(name):
    return lambda cls: cls


ACT2FN = {"relu": nn.ReLU()}


def meshgrid(*tensors, indexing=None):
    return torch.meshgrid(*tensors, indexing=indexing)


class Config:
    """Attribute bag: HF's defaults for what the code reads, then the given values."""

    def __init__(self, **values):
        self.output_attentions = False
        self.output_hidden_states = False
        self.use_return_dict = True
        for key, value in values.items():
            setattr(self, key, value)


class _FeatureInfo:
    def __init__(self, channels):
        self._channels = channels

    def channels(self):
        return list(self._channels)


class TimmResNetFeatures(nn.Module):
    """timm.create_model(resnetXX, features_only=True) stand-in with timm's module names."""

    def __init__(self, name, out_indices, in_chans=3):
        super().__init__()
        if in_chans != 3:
            raise ValueError("shim supports in_chans=3 only")
        net = getattr(torchvision.models, name)(weights=None)
        self.conv1, self.bn1, self.act1, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.out_indices = tuple(out_indices)
        widths = [64] + [
            getattr(self, f"layer{i}")[-1].conv2.out_channels
            if name in ("resnet18", "resnet34")
            else getattr(self, f"layer{i}")[-1].conv3.out_channels
            for i in range(1, 5)
        ]
        self.feature_info = _FeatureInfo([widths[i] for i in self.out_indices])

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        feats = [x]
        x = self.maxpool(x)
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
            feats.append(x)
        return [feats[i] for i in self.out_indices]


def create_model(name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4), in_chans=3, **kwargs):
    if pretrained or not features_only or kwargs:
        raise ValueError(
            f"timm shim: unsupported arguments pretrained={pretrained} features_only={features_only} {kwargs}"
        )
    return TimmResNetFeatures(name, out_indices, in_chans)
