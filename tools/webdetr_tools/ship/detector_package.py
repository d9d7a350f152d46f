"""The general detector (training/detector.py: Deformable-DETR with iterative box refinement on frozen
CenterNet features) -> a model package.

The training checkpoint holds only what training learned (official Deformable-DETR key names, no
backbone.*); the package puts the real CenterNet graph in front, so the browser runs image -> boxes.
Same split plan as official Deformable-DETR exports (export/deformable_segments.py).

API
  load_detector(checkpoint, backbone) -> (DeformableDETR with the CenterNet as backbone, eval; config dict)
  export_detector(checkpoint, model_json, out_dir, fp16=False, progress=print, single_graph=False, size=None)
      -> manifest
"""
import time
from pathlib import Path

import torch

from ..export.deformable_segments import deformable_plan
from ..export.manifest import file_digest
from ..export.package import write_package
from ..export.skeleton import detect_deformable_config
from ..models.deformable_detr import DeformableDETR
from ..training.detector import model_config
from .centernet import BACKBONE_NAME, INPUT_0_255, centernet_features, load_backbone

# Suggested minimum score (manifest output.scoreThreshold): where matches start at this checkpoint
# (model card examples); the default threshold of detect calls and of the demo.
SCORE_THRESHOLD = 0.3
EXPORTER = "webdetr_tools.ship.detector 1"


def load_detector(checkpoint, backbone):
    payload = torch.load(str(checkpoint), map_location="cpu")
    config, state = payload["config"], payload["model"]
    model = DeformableDETR(model_config(config["model"], len(config["classes"])), backbone=backbone)
    result = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("backbone.")]
    if missing or result.unexpected_keys:
        raise KeyError(
            f"{checkpoint}: checkpoint does not fit the detector config: missing {missing[:10]}, "
            f"unexpected {result.unexpected_keys[:10]}"
        )
    return model.eval(), config


def export_detector(checkpoint, model_json, out_dir, fp16=False, progress=print, single_graph=False, size=None):
    """single_graph / size: benchmark exports only (tools/build_models.py --bench-out); the shipped package
    has neither (its input size is the training feature_size)."""
    started = time.time()
    model, config = load_detector(checkpoint, load_backbone(model_json))
    size = int(size or config["feature_size"])
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}
    m = config["model"]
    dims = detect_deformable_config(
        state,
        {"nheads": m["nheads"], "num_queries": m["num_queries"], "with_box_refine": True, "backbone": BACKBONE_NAME},
    )
    image = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        srcs, _ = centernet_features(model, image)
    dims["level_shapes"] = [tuple(int(v) for v in s.shape[2:]) for s in srcs]
    progress(
        f"detector: hidden {dims['hidden']}, heads {dims['heads']}, levels {dims['level_shapes']}, layers "
        f"{dims['encoder_layers']}+{dims['decoder_layers']}, queries {dims['queries']}, "
        f"{dims['num_classes']} classes, input {size}x{size} (0-255)"
    )
    description = {
        "model": {
            "family": "deformable-detr",
            "variant": "box-refine",
            "singleScale": False,
            "source": {"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint)},
            "exporter": EXPORTER,
        },
        "input": {
            "sizePolicy": {"kind": "fixed", "height": size, "width": size},
            "resize": "bilinear-stretch",
            **INPUT_0_255,
            "layout": "NCHW",
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": list(config["classes"]),
            "boxFormat": "cxcywh-normalized",
            "scoreThreshold": SCORE_THRESHOLD,
            "topK": dims["queries"],
        },
        "architecture": {
            "hiddenDim": dims["hidden"],
            "numQueries": dims["queries"],
            "encoderLayers": dims["encoder_layers"],
            "decoderLayers": dims["decoder_layers"],
            "numHeads": dims["heads"],
            "numLevels": dims["levels"],
            "encoderPoints": dims["enc_points"],
            "decoderPoints": dims["dec_points"],
            "levelShapes": [list(s) for s in dims["level_shapes"]],
            "ffnDim": dims["ffn"],
            "backbone": BACKBONE_NAME,
        },
    }
    plan = deformable_plan(model, dims, centernet_features)
    # No single graph: it would repeat every weight (27 MB in fp32 instead of 13, over the 25 MB budget);
    # WASM runs the split pipeline with the TypeScript kernel instead.
    manifest = write_package(
        plan, {"image": image}, out_dir, description, single_graph=single_graph, fp16=fp16, progress=progress
    )
    total = sum(g["bytes"] for g in manifest["graphs"])
    progress(
        f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {total / 1e6:.1f} MB, "
        f"{time.time() - started:.1f} s"
    )
    return manifest
