#!/usr/bin/env python3
"""Example pictures for the model cards: the shipped models' detections on the bundled sample photos,
drawn with PIL (PyTorch on the runtime's input path, which the browser matches to 1e-5;
test/shipped/shipped-parity.test.ts; one-shot: with the package's zoomed search of small patches, as the runtime).
Writes public/models/<model>/examples/<photo>.jpg.

    /usr/bin/python3 tools/render_examples.py [--threshold 0.4] [--only detector]
"""
import argparse
import json
from pathlib import Path


import numpy as np
import torch
from PIL import Image, ImageDraw

from webdetr_tools.ship.inputs import box_input, model_input, patch_input
from webdetr_tools.oneshot.runtime_path import zoomed_search
from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.ship.detector_reference import proposal_reference, shipped_checkpoint
from webdetr_tools.oneshot.model import box_cxcywh_to_xyxy
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.detector_package import load_detector
from webdetr_tools.ship.oneshot_package import load_oneshot, reference_outputs, score_threshold
from webdetr_tools.training.evaluate import postprocess

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent

PHOTOS = ("astronaut", "coffee", "chelsea")
# One-shot: photos with look-alikes, and a query patch on each (source pixels, whole-pixel edges).
ONE_SHOT = {"coins": [(20, 33, 70, 78)], "astronaut": [(370, 10, 470, 110)]}
COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def draw_box(draw, box, colour, label=None, width=3):
    x0, y0, x1, y1 = (float(v) for v in box)
    draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
    if label:  # above the box, kept inside the picture
        tw, lx, ly = draw.textlength(label), max(0.0, x0), max(0.0, y0 - 14)
        draw.rectangle((lx, ly, lx + tw + 6, ly + 14), fill=colour)
        draw.text((lx + 3, ly + 1), label, fill=(255, 255, 255))


def detector_reference(checkpoint, backbone):
    """(image -> {"pred_logits", "pred_boxes"}, config): a detector v2b / v3 checkpoint runs as its package's PyTorch
    reference (ship/detector_reference.py), a v1 checkpoint on the backbone taps."""
    reference = proposal_reference(checkpoint)
    return reference if reference is not None else load_detector(checkpoint, backbone)


@torch.no_grad()
def detector_examples(backbone, out, threshold, checkpoint):
    model, config = detector_reference(checkpoint, backbone)
    manifest = json.loads((REPO / "public" / "models" / "detector" / "manifest.json").read_text())
    if threshold is None:  # the package's suggested threshold, as the demo draws
        threshold = manifest["output"]["scoreThreshold"]
    duplicate_iou = manifest["output"].get("duplicateIou")  # the package's duplicate suppression, as the runtime
    for name in PHOTOS:
        rgb = Image.open(REPO / "public" / "samples" / f"{name}.jpg").convert("RGB")
        outputs = model(model_input(rgb, config["feature_size"]))
        boxes, scores, labels = postprocess(
            outputs["pred_logits"], outputs["pred_boxes"], [rgb.size], duplicate_iou=duplicate_iou
        )[0]
        draw = ImageDraw.Draw(rgb)
        for box, score, label in zip(boxes, scores, labels):
            if score >= threshold:
                draw_box(draw, box, COLOURS[int(label) % len(COLOURS)], f"{config['classes'][int(label)]} {score:.2f}")
        rgb.save(out / f"{name}.jpg", quality=85)
        print(out / f"{name}.jpg", int((scores >= threshold).sum()), "boxes")


@torch.no_grad()
def oneshot_examples(backbone, out, threshold):
    checkpoint = TOOLS / "checkpoints" / "oneshot.pt"
    model, config, _ = load_oneshot(checkpoint)
    threshold = score_threshold(checkpoint) if threshold is None else threshold
    zoom = json.loads((REPO / "public" / "models" / "oneshot" / "manifest.json").read_text())["input"][
        "queryPatch"
    ].get("zoom")
    for name, queries in ONE_SHOT.items():
        rgb = Image.open(REPO / "public" / "samples" / f"{name}.jpg").convert("RGB")
        if zoom is not None:  # what the runtime returns: each patch searched alone, zoomed when small, merged
            found = zoomed_search(
                model, backbone, REPO / "public" / "samples" / f"{name}.jpg", config["image_size"], zoom, queries
            )
            xyxy, scores = np.concatenate([b for b, _ in found]), np.concatenate([s for _, s in found])
        else:
            patches = [{"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0} for x0, y0, x1, y1 in queries]
            patch_tensor = (
                box_input(rgb, patches)
                if model.config.patch_descriptor == "roi"
                else patch_input(rgb, patches, config["patch_size"])
            )
            logits, boxes = reference_outputs(model, backbone, model_input(rgb, config["image_size"]), patch_tensor)
            scores = logits[0, :, 0].sigmoid().numpy()
            xyxy = (box_cxcywh_to_xyxy(boxes[0]) * torch.tensor([*rgb.size, *rgb.size])).numpy()
        draw = ImageDraw.Draw(rgb)
        for query in queries:
            draw_box(draw, query, (255, 255, 255), "query", width=2)
        kept = np.flatnonzero(scores >= threshold)
        for k in kept:
            draw_box(draw, xyxy[k], COLOURS[0], f"{scores[k]:.2f}")
        rgb.save(out / f"{name}.jpg", quality=85)
        print(out / f"{name}.jpg", len(kept), "boxes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--threshold", type=float, help="detector boxes shown from this score (default: the package's suggested score)"
    )
    parser.add_argument(
        "--oneshot-threshold",
        type=float,
        help="one-shot boxes shown from this score (default: the package's suggested score)",
    )
    parser.add_argument("--only", default="detector,oneshot")
    parser.add_argument(
        "--detector-checkpoint", type=Path, default=shipped_checkpoint(), help="default: the shipped variant's release"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    backbone = load_backbone(fetch())
    for kind in args.only.split(","):
        out = REPO / "public" / "models" / kind / "examples"
        out.mkdir(parents=True, exist_ok=True)
        if kind == "detector":
            detector_examples(backbone, out, args.threshold, args.detector_checkpoint)
        else:
            oneshot_examples(backbone, out, args.oneshot_threshold)


if __name__ == "__main__":
    main()
