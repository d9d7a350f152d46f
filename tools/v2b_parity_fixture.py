#!/usr/bin/env python3
"""CI fixture of the detector v2b package path (ship/detector_v2b_package.py) that needs no fetched teacher and no
checkpoint: a small v2b (detector_v2b.json's model at hidden 32, 1+2 layers, 20 queries, 64x64 input, heads made
non-zero so class and box heads count) on a synthetic stand-in for the CenterNet teacher (SyntheticTeacher: a few
convolutions with the teacher's five outputs at their strides: neck 192 ch /8, neck 256 ch /16, C5 480 ch /32,
heat-map logits 80 ch /4, wh head 4 ch /4), exported through the same plan and writer as the real package, plus
a picture and V2bForward's outputs on the runtime's input. Cached in --cache keyed by the exporter sources.
Prints one JSON line: {"package", "fixture"} (the fixture directory has the layout write_v2b_fixture writes).

    /usr/bin/python3 tools/v2b_parity_fixture.py --cache node_modules/.cache/webdetr-export [--fp16] [--stride 4]
"""
import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from webdetr_tools.cache_lock import package_lock

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent

SIZE = 64
SOURCES = (
    "v2b_parity_fixture.py",
    "webdetr_tools/ship/detector_v2b_package.py",
    "webdetr_tools/detector_v2/model_b.py",
    "webdetr_tools/detector_v2/proposals.py",
    "webdetr_tools/export/deformable_segments.py",
    "webdetr_tools/export/package.py",
    "webdetr_tools/export/onnx_io.py",
    "configs/detector_v2b.json",
)


def synthetic_teacher(seed=0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Graph(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(seed)
            self.stem = nn.Conv2d(3, 16, 1)
            self.heat = nn.Conv2d(16, 80, 3, padding=1)
            self.wh = nn.Conv2d(16, 4, 3, padding=1)
            self.neck8 = nn.Conv2d(16, 192, 1)
            self.neck16 = nn.Conv2d(16, 256, 1)
            self.c5 = nn.Conv2d(16, 480, 1)

        def forward(self, image):
            x4 = F.relu(self.stem(F.avg_pool2d(image / 255.0, 4)))
            heat = self.heat(x4) * 4 - 2  # peaky logits, as the teacher's
            wh = F.softplus(self.wh(x4)) * 0.4  # the raw head: x16 -> pixels
            return (
                F.relu(self.neck8(F.avg_pool2d(x4, 2))),
                F.relu(self.neck16(F.avg_pool2d(x4, 4))),
                self.c5(F.avg_pool2d(x4, 8)),
                heat,
                wh,
            )

    class Teacher(nn.Module):
        def __init__(self):
            super().__init__()
            self.graph = Graph()

    return Teacher().eval()


def small_config():
    from webdetr_tools.detector_v2.config import load_config

    config = json.loads(json.dumps(load_config(TOOLS / "configs" / "detector_v2b.json")))
    config["feature_size"] = SIZE
    config["model"].update(
        hidden_dim=32, nheads=2, enc_layers=1, dec_layers=2, dim_feedforward=64, num_queries=20, enc_n_points=2
    )
    config["model"]["dec_n_points"] = 2
    return config


def small_model(seed=0):
    import torch

    from webdetr_tools.detector_v2.model_b import build_model_b

    config = small_config()
    model = build_model_b(config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in model.class_embed:
            head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.2)
            head.bias.copy_(torch.randn(head.bias.shape, generator=g) * 0.2)
        for box in model.bbox_embed:
            last = box.layers[-1]
            last.weight.copy_(torch.randn(last.weight.shape, generator=g) * 0.05)
            last.bias.copy_(torch.randn(last.bias.shape, generator=g) * 0.05)
    return model, config


def build(out: Path, fp16: bool, stride: int) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from webdetr_tools.ship.detector_v2b_package import (
        V2bForward,
        round_weights_fp16,
        v2b_dims,
        v2b_plan,
    )
    from webdetr_tools.export.package import write_package
    from webdetr_tools.ship.inputs import model_input

    torch.manual_seed(0)
    model, config = small_model()
    teacher = synthetic_teacher()
    dims = v2b_dims(model, config)
    description = {
        "model": {"family": "deformable-detr", "variant": "two-stage", "singleScale": False, "exporter": "v2b fixture"},
        "input": {
            "sizePolicy": {"kind": "fixed", "height": SIZE, "width": SIZE},
            "resize": "bilinear-stretch",
            "mean": [0.0, 0.0, 0.0],
            "std": [1 / 255] * 3,
            "pixelScale": 255,
            "layout": "NCHW",
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": list(config["classes"]),
            "boxFormat": "cxcywh-normalized",
            "scoreThreshold": 0.3,
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
            "backbone": "synthetic-teacher",
        },
    }
    package, fixture = out / "package", out / "fixture"
    manifest = write_package(
        v2b_plan(model, teacher, dims, stride),
        {"image": torch.zeros(1, 3, SIZE, SIZE)},
        package,
        description,
        single_graph=False,
        fp16=fp16,
        progress=lambda line: print(line, file=sys.stderr),
    )
    fixture.mkdir(parents=True, exist_ok=True)
    rgb = Image.open(REPO / "public" / "samples" / "coffee.jpg").convert("RGB").resize((96, 72), Image.BILINEAR)
    rgb.save(fixture / "input.png")
    rgb = Image.open(fixture / "input.png").convert("RGB")
    forward = V2bForward(model, teacher, stride)
    if fp16:
        round_weights_fp16(forward)
    logits, boxes = forward(model_input(rgb, SIZE))
    np.save(fixture / "logits.npy", logits.numpy().astype(np.float32))
    np.save(fixture / "boxes.npy", boxes.numpy().astype(np.float32))
    record = {
        "image": "coffee.jpg (96x72)",
        "checkpoint": "synthetic",
        "step": 0,
        "proposalStride": stride,
        "weights": "fp16" if fp16 else "fp32",
        "graphs": {g["file"]: g["sha256"] for g in manifest["graphs"]},
        "logitsShape": list(logits.shape),
        "boxesShape": list(boxes.shape),
    }
    (fixture / "expected.json").write_text(json.dumps(record, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=REPO / "node_modules" / ".cache" / "webdetr-export")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--stride", type=int, choices=(4, 8), default=8, help="proposal stride (trained: 8)")
    args = parser.parse_args()
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((TOOLS / name).read_bytes())
    digest.update(f"{'fp16' if args.fp16 else 'fp32'} stride {args.stride}".encode())
    out = (args.cache if args.cache.is_absolute() else REPO / args.cache) / f"v2b-synthetic-{digest.hexdigest()[:16]}"
    with package_lock(out.parent, "v2b-synthetic-"):
        if not (out / "fixture" / "expected.json").is_file():
            import torch

            torch.set_num_threads(2)
            tmp = out.with_name(out.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            build(tmp, args.fp16, args.stride)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
    print(json.dumps({"package": str(out / "package"), "fixture": str(out / "fixture")}))


if __name__ == "__main__":
    main()
