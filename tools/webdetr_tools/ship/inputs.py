"""The runtime's input path in PyTorch, as the exporter's parity fixtures and the evaluations feed the models:
the picture stretched to the model size ('pil' preprocessing), query patch crops, query boxes."""
import numpy as np
import torch
from PIL import Image


def model_input(rgb: Image.Image, size: int) -> torch.Tensor:
    """The runtime's 'pil' preprocessing: PIL bilinear stretch on uint8, 0-255 float NCHW."""
    resized = np.asarray(rgb.resize((size, size), Image.BILINEAR), np.float32)
    return torch.from_numpy(resized.copy()).permute(2, 0, 1)[None]


def patch_input(rgb: Image.Image, patches, size: int) -> torch.Tensor:
    crops = [
        np.asarray(
            rgb.crop((p["x"], p["y"], p["x"] + p["width"], p["y"] + p["height"])).resize((size, size), Image.BILINEAR),
            np.float32,
        )
        for p in patches
    ]
    return torch.from_numpy(np.stack(crops).copy()).permute(0, 3, 1, 2)[None]


def box_input(rgb: Image.Image, patches) -> torch.Tensor:
    w, h = rgb.size
    return torch.tensor(
        [[[p["x"] / w, p["y"] / h, (p["x"] + p["width"]) / w, (p["y"] + p["height"]) / h] for p in patches]],
        dtype=torch.float32,
    )
