"""Small synthetic RT-DETR checkpoints (official state-dict layout, random weights) for tests and benches:
an r18vd backbone, a narrow hybrid encoder and decoder, every parameter and BN statistic drawn from a seed so
nothing is trivially zero (the official init zeroes the box heads and attention logits)."""
import torch

from .config import DEFAULTS
from .model import RTDETR


def small_config(version="v2", **overrides):
    cfg = dict(DEFAULTS)
    cfg.update(
        version=version,
        depth=18,
        in_channels=[128, 256, 512],
        hidden=64,
        enc_heads=4,
        enc_ffn=128,
        enc_layers=1,
        depth_mult=1 / 3,
        expansion=0.5,
        num_levels=3,
        dec_layers=2,
        dec_heads=4,
        dec_ffn=128,
        queries=30,
        num_classes=5,
        num_points=[4, 2, 3] if version == "v2" else [4, 4, 4],
        learn_query_content=False,
        num_denoising=100,
    )
    cfg.update(overrides)
    return cfg


@torch.no_grad()
def randomize_(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point() or name.endswith("num_points_scale"):  # a constant (1 / P_l), not a weight
            continue
        if name.endswith("running_var"):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
        elif name.endswith("running_mean"):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
        elif tensor.dim() >= 2:
            fan_in = tensor[0].numel()
            tensor.copy_(torch.randn(tensor.shape, generator=generator) / fan_in**0.5)
        elif name.endswith(".weight"):  # norm scales
            tensor.copy_(1 + 0.1 * torch.randn(tensor.shape, generator=generator))
        else:
            tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
    return model


def synthetic_checkpoint(version="v2", seed=0, **overrides):
    """(state dict in the official layout, its config)."""
    cfg = small_config(version, **overrides)
    model = randomize_(RTDETR(cfg).eval(), seed)
    return model.state_dict(), cfg
