"""The one-shot package plan (ship/oneshot_package.py) on a tiny model and a stand-in backbone: the split
plan run in PyTorch equals the training model's forward, patch slots are independent (what lets the
runtime fill unused slots), and the package exports with a valid manifest."""
import json

import torch
from torch import nn

from webdetr_tools.export.package import write_package
from webdetr_tools.export.plan import run_plan
from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR
from webdetr_tools.ship.oneshot_package import oneshot_plan, reference_outputs

CONFIG = dict(channels=[8, 16, 24], d_model=32, nheads=4, enc_layers=2, dec_layers=2, dim_feedforward=48, n_points=2,
              queries_per_patch=3, max_patches=4, patch_size=32, image_size=64)


class StandInBackbone(nn.Module):
    """Three taps at strides 8/16/32 from a 0-255 image, like the CenterNet's."""

    def __init__(self):
        super().__init__()
        self.taps = nn.ModuleList(nn.Conv2d(3, c, 1) for c in CONFIG["channels"])

    def forward(self, x):
        return [tap(nn.functional.avg_pool2d(x / 255, s)) for tap, s in zip(self.taps, (8, 16, 32))]


def _model():
    torch.manual_seed(0)
    model = OneShotDETR(OneShotConfig.from_dict(CONFIG)).eval()
    with torch.no_grad():  # away from the initialisation's zeros, so every term matters
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model, StandInBackbone().eval()


def _inputs(k):
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 64, 64, generator=g) * 255
    patches = torch.rand(1, k, 3, 32, 32, generator=g) * 255
    return image, patches


def _level_shapes():
    return [(8, 8), (4, 4), (2, 2)]


@torch.no_grad()
def test_plan_equals_the_training_forward_and_slots_are_independent():
    model, backbone = _model()
    image, patches = _inputs(4)
    plan = oneshot_plan(model, backbone, _level_shapes())
    out = run_plan(plan, {"image": image, "patches": patches})
    logits, boxes = reference_outputs(model, backbone, image, patches)
    assert out["pred_logits"].shape == (1, 12, 1) and out["pred_boxes"].shape == (1, 12, 4)
    assert torch.allclose(out["pred_logits"], logits, atol=1e-5)
    assert torch.allclose(out["pred_boxes"], boxes, atol=1e-6)
    # Two real patches, slots 3-4 filled with a copy of patch 2 = the 2-patch forward on its groups.
    filled = torch.cat([patches[:, :2], patches[:, 1:2], patches[:, 1:2]], 1)
    out = run_plan(plan, {"image": image, "patches": filled})
    two_logits, two_boxes = reference_outputs(model, backbone, image, patches[:, :2])
    assert torch.allclose(out["pred_logits"][:, :6], two_logits, atol=1e-5)
    assert torch.allclose(out["pred_boxes"][:, :6], two_boxes, atol=1e-6)


def test_package_exports_with_static_shapes(tmp_path):
    model, backbone = _model()
    image, patches = _inputs(4)
    plan = oneshot_plan(model, backbone, _level_shapes())
    description = {
        "model": {"family": "deformable-detr", "variant": "one-shot"},
        "input": {"sizePolicy": {"kind": "fixed", "height": 64, "width": 64}, "resize": "bilinear-stretch",
                  "mean": [0, 0, 0], "std": [1 / 255] * 3, "pixelScale": 255, "layout": "NCHW",
                  "queryPatch": {"height": 32, "width": 32, "maxPatches": 4, "queriesPerPatch": 3}},
        "output": {"logits": "pred_logits", "boxes": "pred_boxes", "classActivation": "sigmoid", "classNames": ["match"],
                   "boxFormat": "cxcywh-normalized"},
        "architecture": {"hiddenDim": 32, "numQueries": 3, "encoderLayers": 2, "decoderLayers": 2, "numHeads": 4},
    }
    manifest = write_package(plan, {"image": image, "patches": patches}, tmp_path, description, single_graph=False,
                             progress=lambda line: None)
    assert [p["name"] for p in manifest["pipelines"]] == ["image", "patches"]
    assert manifest["pipelines"][1]["after"] == "image"
    assert manifest["tensors"]["patches"]["shape"] == [1, 4, 3, 32, 32]
    kernels = [s for p in manifest["pipelines"] for s in p["stages"] if s["kind"] == "msDeformAttn"]
    assert [k["queries"] for k in kernels] == [84, 84, 12, 12]  # 8*8+4*4+2*2 tokens; 4 slots x 3 queries
    assert json.loads((tmp_path / "manifest.json").read_text())["model"]["variant"] == "one-shot"
