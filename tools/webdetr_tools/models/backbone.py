"""ResNet-50/101 body with frozen batch norm, named as the official checkpoints name it.

API: FrozenBatchNorm2d(n); ResNetBody(name, dilation, return_layers) with forward(images [B,3,H,W])
-> list of feature maps in order (e.g. [C3, C4, C5] for return_layers ('layer2', 'layer3', 'layer4'),
[C5] for ('layer4',)). Its state-dict keys are torchvision's (conv1, bn1, layer1..layer4; no fc), so a model
that holds it as `backbone = ModuleList([Backbone])` with `Backbone.body` gets the official
'backbone.0.body.*' keys. CHANNELS gives each layer's output width.
"""
import torch
import torchvision
from torch import nn

CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics: y = x * w/sqrt(var + eps) + (b - mean * w/sqrt(var + eps))."""

    def __init__(self, n: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # torchvision BatchNorm checkpoints carry a counter that frozen norms have no use for
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x):
        # scale and shift folded in the same order as the official module (bit-identical results)
        scale = self.weight.reshape(1, -1, 1, 1) * (self.running_var.reshape(1, -1, 1, 1) + self.eps).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x * scale + shift


class ResNetBody(nn.Module):
    """torchvision ResNet without avgpool/fc; returns the requested stages' outputs."""

    def __init__(self, name: str = "resnet50", dilation: bool = False, return_layers=("layer4",)):
        super().__init__()
        if name not in ("resnet50", "resnet101"):
            raise ValueError(f"unsupported backbone {name!r} (resnet50 or resnet101)")
        net = getattr(torchvision.models, name)(weights=None, norm_layer=FrozenBatchNorm2d,
                                                replace_stride_with_dilation=[False, False, dilation])
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.return_layers = tuple(return_layers)
        self.num_channels = [CHANNELS[name_] for name_ in self.return_layers]

    def forward(self, images):
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        outs = []
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name in self.return_layers:
                outs.append(x)
            if name == self.return_layers[-1]:
                break
        return outs


class Backbone(nn.Module):
    """Holder giving the official key prefix 'body.'."""

    def __init__(self, name: str, dilation: bool, return_layers):
        super().__init__()
        self.body = ResNetBody(name, dilation, return_layers)

    @property
    def num_channels(self):
        return self.body.num_channels

    def forward(self, images):
        return self.body(images)
