"""Our PyTorch reference models for official Deformable-DETR and UP-DETR checkpoints.

API: build_model(config: ModelConfig) -> nn.Module (DeformableDETR or UPDETR, eval mode), and
model_from_checkpoint(state_dict, args, overrides=None) -> (model loaded strictly, config).
Modules: backbone, position_encoding, ms_deform_attn (swappable core), deformable_transformer,
deformable_detr, detr_transformer, updetr, state_dict (strict loading errors).
"""
from ..config import ModelConfig, config_from_checkpoint
from .deformable_detr import DeformableDETR
from .ms_deform_attn import MSDeformAttn, grid_sample_core, sampling_locations
from .state_dict import KeyMismatchError
from .updetr import UPDETR


def build_model(config: ModelConfig):
    if config.family == "deformable-detr":
        model = DeformableDETR(config)
    elif config.family == "up-detr":
        model = UPDETR(config)
    else:
        raise ValueError(f"unknown model family {config.family!r}")
    return model.eval()


def model_from_checkpoint(state_dict, args, overrides=None):
    config = config_from_checkpoint(state_dict, args, overrides)
    model = build_model(config)
    model.load_official_state_dict(state_dict)
    return model, config


__all__ = [
    "build_model",
    "model_from_checkpoint",
    "DeformableDETR",
    "UPDETR",
    "MSDeformAttn",
    "grid_sample_core",
    "sampling_locations",
    "KeyMismatchError",
    "ModelConfig",
    "config_from_checkpoint",
]
