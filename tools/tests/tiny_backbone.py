"""Shared by the training tests (detector and AlignDet): a deterministic stand-in for the CenterNet body and the
Deformable-DETR loss weights the configs use."""
import torch
import torch.nn.functional as F
from torch import nn

LOSS = dict(
    cost_class=2.0,
    cost_bbox=5.0,
    cost_giou=2.0,
    cls_loss_coef=2.0,
    bbox_loss_coef=5.0,
    giou_loss_coef=2.0,
    focal_alpha=0.25,
)


class TinyBackbone(nn.Module):
    """Three maps at strides 8/16/32 (4/6/8 channels) from 1x1 convs on average-pooled pixels; seeded."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.convs = nn.ModuleList(nn.Conv2d(3, c, 1) for c in (4, 6, 8))

    def forward(self, x):
        return [conv(F.avg_pool2d(x / 255, s)) for conv, s in zip(self.convs, (8, 16, 32))]
