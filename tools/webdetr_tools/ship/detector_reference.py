"""The PyTorch reference of a detector package for a training checkpoint whose proposals are a teacher's detections:
v2b (CenterNet peaks, ship/detector_v2b_package.V2bForward) or v3 (SSDLite Fast NMS,
ship/detector_v3_package.V3Forward). eval_shipped.py, render_examples.py and experiments/gallery_pytorch.py run
checkpoints through it.

The variant `npm run build:models` ships as public/models/detector is SHIPPED_DETECTOR (build_models.py,
ship_detector.py, eval_shipped.py and render_examples.py read it): its release checkpoint is
tools/checkpoints/detector_<variant>.pt.

API
  SHIPPED_DETECTOR: "v2b" or "v3" ("v1", the 35-class detector, builds with build_models.py --detector v1)
  shipped_checkpoint(variant=SHIPPED_DETECTOR) -> Path
  proposal_reference(checkpoint, v2b_stride=None) -> (run, config), or None for a v1 checkpoint;
      run(image [1,3,S,S] 0-255) -> {"pred_logits", "pred_boxes"}
"""
from pathlib import Path

import torch

SHIPPED_DETECTOR = "v3"
CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def shipped_checkpoint(variant: str = SHIPPED_DETECTOR) -> Path:
    return CHECKPOINTS / f"detector_{variant}.pt"


def proposal_reference(checkpoint: Path, v2b_stride: int | None = None, manifest: dict | None = None):
    config = torch.load(str(checkpoint), map_location="cpu")["config"]
    variant = config.get("variant")
    if variant == "v2b":
        from ..backbones.fetch import fetch
        from ..detector_v2.neck import TeacherNeck
        from .detector_v2b_package import V2bForward, load_v2b, proposal_stride

        model, config, _ = load_v2b(checkpoint)
        forward = V2bForward(model, TeacherNeck(fetch()).eval(), v2b_stride or proposal_stride(config))
    elif variant == "v3":
        from ..detector_v2.ssd_views import SsdInputs
        from .detector_v3_package import V3Forward, load_v3, package_options, shipped_forward

        if manifest is not None:  # what the package computes (crop check, int8 weights), not its fp16 rounding
            options = {**package_options(manifest), "fp16": False}
            forward, config, _ = shipped_forward(checkpoint, **options)
        else:
            model, config, _ = load_v3(checkpoint)
            forward = V3Forward(model, SsdInputs().eval())
    else:
        return None

    def run(image):
        logits, boxes = forward(image)
        return {"pred_logits": logits, "pred_boxes": boxes}

    return run, config
