"""Backbone features and sine position embeddings for an unpadded input.

Reads the ResNet by its official names (backbone.0.body.conv1/bn1/layer1..4) and the Deformable-DETR
input projections (input_proj.<l>). Position embeddings are constants for a fixed input size; with
dynamic=True they are computed from each feature map's own shape (cumsum of ones, as the official module
does from its mask), so a graph exported with dynamic height/width gives the right embedding at any size.
"""
import math

import torch
import torch.nn.functional as F


def resnet_stages(body, image):
    """[C2, C3, C4, C5] of a torchvision-layout ResNet body (frozen batch norm, eval)."""
    x = F.max_pool2d(F.relu(body.bn1(body.conv1(image))), kernel_size=3, stride=2, padding=1)
    outs = []
    for name in ("layer1", "layer2", "layer3", "layer4"):
        x = getattr(body, name)(x)
        outs.append(x)
    return outs


def sine_position_embedding(height, width, num_pos_feats, offset, scale=2 * math.pi, temperature=10000):
    """[1, 2*num_pos_feats, H, W] = cat(pos_y, pos_x); offset -0.5 for Deformable-DETR, 0 for DETR/UP-DETR."""
    eps = 1e-6
    y_embed = torch.arange(1, height + 1, dtype=torch.float32)[None, :, None].expand(1, height, width)
    x_embed = torch.arange(1, width + 1, dtype=torch.float32)[None, None, :].expand(1, height, width)
    y_embed = (y_embed + offset) / (height + eps) * scale
    x_embed = (x_embed + offset) / (width + eps) * scale
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def dynamic_sine_position_embedding(feature, num_pos_feats, offset, scale=2 * math.pi, temperature=10000):
    """sine_position_embedding for feature's own H x W, traced from its shape (ONNX dynamic axes follow it)."""
    eps = 1e-6
    ones = torch.ones_like(feature[:1, 0])  # [1, H, W]
    y_embed = ones.cumsum(1)
    x_embed = ones.cumsum(2)
    y_embed = (y_embed + offset) / (y_embed[:, -1:, :] + eps) * scale
    x_embed = (x_embed + offset) / (x_embed[:, :, -1:] + eps) * scale
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def deformable_features(model, image, dynamic=False):
    """Projected multi-scale features [N, d, H_l, W_l] and their position embeddings, like the official forward."""
    stages = resnet_stages(model.backbone[0].body, image)
    levels = len(model.input_proj)
    backbone_levels = stages[1:] if levels > 1 else stages[-1:]
    backbone_levels = backbone_levels[:levels]
    srcs = [model.input_proj[l](feature) for l, feature in enumerate(backbone_levels)]
    for l in range(len(srcs), levels):
        srcs.append(model.input_proj[l](stages[-1] if l == len(backbone_levels) else srcs[-1]))
    hidden = srcs[0].shape[1]
    if dynamic:
        pos = [dynamic_sine_position_embedding(s, hidden // 2, offset=-0.5).to(s.dtype) for s in srcs]
    else:
        pos = [sine_position_embedding(s.shape[2], s.shape[3], hidden // 2, offset=-0.5).to(s.dtype) for s in srcs]
    return srcs, pos
