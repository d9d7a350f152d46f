"""ResNet-50/101 body with frozen batch norm, named as the official checkpoints name it.

API: FrozenBatchNorm2d(n); ResNetBody(name, dilation, return_layers) with forward(images [B,3,H,W])
-> list of feature maps in order (e.g. [C3, C4, C5] for return_layers ('layer2', 'layer3', 'layer4'),
[C5] for ('layer4',)). Its state-dict keys are torchvision's (conv1, bn1, layer1..layer4; no fc), so a model
that holds it as `backbone = ModuleList([Backbone])` with `Backbone.body` gets the official
'backbone.0.body.*' keys. CHANNELS gives each layer's output width.
A spec (dict block 'basic'|'bottleneck', stem, widths [4], depths [4]) builds the same layout at other widths and
depths (Hugging Face ResNet backbone configs): resnet_spec(name) gives torchvision's own resnetXX as a spec, and
resnet_layers(spec, norm_layer) the (conv1, bn1, [layer1..layer4]) modules; ResNetBody(spec=...) uses them.
"""
import torch
import torchvision
from torch import nn

CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}
RESNET_SPECS = {
    "resnet18": ("basic", [2, 2, 2, 2]),
    "resnet34": ("basic", [3, 4, 6, 3]),
    "resnet50": ("bottleneck", [3, 4, 6, 3]),
    "resnet101": ("bottleneck", [3, 4, 23, 3]),
    "resnet152": ("bottleneck", [3, 8, 36, 3]),
}


def resnet_spec(name: str) -> dict:
    block, depths = RESNET_SPECS[name]
    widths = [64, 128, 256, 512] if block == "basic" else [256, 512, 1024, 2048]
    return dict(block=block, stem=64, widths=widths, depths=depths)


def resnet_layers(spec: dict, norm_layer):
    """torchvision-layout stem and stages for a spec; block widths are the stage outputs (bottleneck: width/4
    inside)."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    bottleneck = spec["block"] == "bottleneck"
    conv1 = nn.Conv2d(3, spec["stem"], kernel_size=7, stride=2, padding=3, bias=False)
    bn1 = norm_layer(spec["stem"])
    layers, inplanes = [], spec["stem"]
    for stage, (width, depth) in enumerate(zip(spec["widths"], spec["depths"])):
        stride = 1 if stage == 0 else 2
        planes = width // 4 if bottleneck else width
        block = Bottleneck if bottleneck else BasicBlock
        downsample = None
        if stride != 1 or inplanes != width:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, width, kernel_size=1, stride=stride, bias=False), norm_layer(width)
            )
        blocks = [block(inplanes, planes, stride, downsample, norm_layer=norm_layer)]
        blocks += [block(width, planes, norm_layer=norm_layer) for _ in range(depth - 1)]
        layers.append(nn.Sequential(*blocks))
        inplanes = width
    return conv1, bn1, layers


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

    def __init__(self, name: str = "resnet50", dilation: bool = False, return_layers=("layer4",), spec=None):
        super().__init__()
        if spec is not None:
            if dilation:
                raise ValueError("a backbone spec has no dilation")
            self.conv1, self.bn1, layers = resnet_layers(spec, FrozenBatchNorm2d)
            self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.return_layers = tuple(return_layers)
            widths = dict(zip(("layer1", "layer2", "layer3", "layer4"), spec["widths"]))
            self.num_channels = [widths[name_] for name_ in self.return_layers]
            return
        if name not in ("resnet50", "resnet101"):
            raise ValueError(f"unsupported backbone {name!r} (resnet50 or resnet101)")
        net = getattr(torchvision.models, name)(
            weights=None, norm_layer=FrozenBatchNorm2d, replace_stride_with_dilation=[False, False, dilation]
        )
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

    def __init__(self, name: str, dilation: bool, return_layers, spec=None):
        super().__init__()
        self.body = ResNetBody(name, dilation, return_layers, spec=spec)

    @property
    def num_channels(self):
        return self.body.num_channels

    def forward(self, images):
        return self.body(images)
