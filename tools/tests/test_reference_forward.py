"""Our reference models against the official outputs stored in ../shared/reference (synthetic weights).

Tolerances: logits <= 1e-4, boxes <= 1e-5 max abs (float32 CPU; measured ~1e-5 / ~1e-6).
Each R50 forward at 384x512 takes a few seconds on 2 threads; models and outputs are cached per variant.
"""
import functools
import json

import numpy as np
import pytest
import torch

from webdetr_tools.models import model_from_checkpoint
from webdetr_tools.models.inputs import crop_patches, load_rgb, to_normalized_tensor
from webdetr_tools.weights import synthetic_state_dict

VARIANTS = {
    "deformable_plain": ("deformable-detr", "plain"),
    "deformable_refine": ("deformable-detr", "refine"),
    "deformable_two_stage": ("deformable-detr", "two-stage"),
    "updetr_pretrain": ("up-detr", "pretrain"),
}
LOGITS_TOL, BOXES_TOL = 1e-4, 1e-5


@functools.lru_cache(maxsize=None)
def reference_run(shared: str, variant: str):
    folder = f"{shared}/reference/{variant}"
    shapes = json.load(open(f"{folder}/state_dict_shapes.json"))
    args = json.load(open(f"{folder}/args.json"))
    model, config = model_from_checkpoint(synthetic_state_dict(shapes), args)
    images = to_normalized_tensor(load_rgb(f"{shared}/reference/image.png"))
    with torch.no_grad():
        if config.family == "up-detr":
            out = model(images, torch.from_numpy(np.load(f"{folder}/patches.npy")))
        else:
            out = model(images)
    return config, out["pred_logits"].numpy(), out["pred_boxes"].numpy()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_matches_official_outputs(shared_dir, variant):
    config, logits, boxes = reference_run(str(shared_dir), variant)
    assert (config.family, config.variant) == VARIANTS[variant]
    expected_logits = np.load(shared_dir / "reference" / variant / "pred_logits.npy")
    expected_boxes = np.load(shared_dir / "reference" / variant / "pred_boxes.npy")
    assert logits.shape == expected_logits.shape and boxes.shape == expected_boxes.shape
    logits_err = float(np.abs(logits - expected_logits).max())
    boxes_err = float(np.abs(boxes - expected_boxes).max())
    print(f"{variant}: logits max abs {logits_err:.3e}, boxes max abs {boxes_err:.3e}")
    assert logits_err <= LOGITS_TOL, logits_err
    assert boxes_err <= BOXES_TOL, boxes_err


def test_patch_crops_match_reference_patches(shared_dir):
    ref = shared_dir / "reference"
    boxes = json.loads((ref / "updetr_pretrain" / "patches.json").read_text())["patch_boxes_xyxy"]
    patches = crop_patches(load_rgb(ref / "image.png"), boxes).numpy()
    expected = np.load(ref / "updetr_pretrain" / "patches.npy")
    assert patches.shape == expected.shape == (1, 2, 3, 128, 128)
    assert np.abs(patches - expected).max() <= 1e-6


def test_image_tensor_is_normalized_rgb(shared_dir):
    image = load_rgb(shared_dir / "reference" / "image.png")
    x = to_normalized_tensor(image)
    assert tuple(x.shape) == (1, 3, 384, 512)
    rgb = np.asarray(image, dtype=np.float32)[0, 0] / 255
    expected = (rgb - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert np.allclose(x[0, :, 0, 0].numpy(), expected, atol=1e-6)
