#!/usr/bin/env python3
"""One-shot AP50 of the shipped one-shot model (evaluation/oneshot_ap.py protocol, held-out splits), measured
in PyTorch (release checkpoint, the runtime's input path: decoded image -> PIL bilinear stretch -> backbone)
and in the browser through the CLI (public/models/oneshot in headless chromium, --patches-file). A model
with RoI patch descriptors (patch_descriptor 'roi') pools the query image's own backbone taps over the box,
as its package does.

The browser runs same-image pairs only: the API crops query patches from the image it searches (drag a
box, find the others in the same picture). PyTorch reports all pairs, and the same-image subset that the
browser figure must match within 0.1 AP. Query boxes are rounded to whole pixels (floor(v + 0.5)) for both,
so PIL's crop and the runtime's crop see the same rectangle.

    /usr/bin/python3 tools/eval_shipped_oneshot.py [--sets raccoon,pennfudan] [--out tools/results/oneshot_shipped.json]

Both sides run the package's zoomed search for small queries (manifest input.queryPatch.zoom; ZoomedDetector of
webdetr_tools/oneshot/runtime_path.py here,
the engine in the browser) unless --no-zoom. Experiments (PyTorch only, --skip-browser): --image-size N (another
input size), --zoom GRID:SIDE:BELOW (another zoomed search). --sets lookalikes scores every photo of the look-alikes
set (webdetr_tools/data/lookalikes.py; materialise it first); --max-detections N also reports same-image AP50 (all
and per class) with N detections kept instead of the protocol's 20.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.evaluation.cli_detections import cli_boxes_scores
from webdetr_tools.evaluation.oneshot_ap import detect_pairs, evaluate_oneshot, make_pairs, make_queries
from webdetr_tools.evaluation.oneshot_sets import LOOKALIKES, oneshot_samples
from webdetr_tools.oneshot.runtime_path import (
    MAX_DETECTIONS,
    SETS,
    RuntimePathDetector,
    ZoomedDetector,
    whole_pixel_box,
)
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.oneshot_package import load_oneshot

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
PACKAGE_MANIFEST = REPO / "public" / "models" / "oneshot" / "manifest.json"


def browser_same_image(samples, queries, same_pairs, backend, zoom=True):
    """Detections for the same-image pairs, from one CLI run with every query image's patches (zoom False: the
    CLI's --no-zoom; else the package's own zoomed search)."""
    per_image = {}
    for p, (n, t, _) in enumerate(same_pairs):
        per_image.setdefault(str(samples[t].image), []).append((p, whole_pixel_box(queries[n].box, samples[t])))
    images = sorted(per_image)
    with tempfile.TemporaryDirectory() as tmp:
        patches_file = Path(tmp) / "patches.json"
        patches_file.write_text(json.dumps({image: [list(b) for _, b in per_image[image]] for image in images}))
        command = [
            "node",
            str(REPO / "bin" / "webdetr.mjs"),
            "detect",
            *images,
            "--model",
            str(REPO / "public" / "models" / "oneshot"),
            "--patches-file",
            str(patches_file),
            "--threshold",
            "0",
            "--max-detections",
            str(MAX_DETECTIONS),
            "--json",
            "--backend",
            backend,
        ]
        if not zoom:
            command.append("--no-zoom")
        run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if run.returncode != 0:
        raise SystemExit(f"webdetr CLI failed ({run.returncode}): {run.stdout[-2000:]}{run.stderr[-2000:]}")
    report = json.loads(run.stdout)
    detections = [None] * len(same_pairs)
    for image, result in zip(images, report["results"]):
        for (p, _), patch in zip(per_image[image], result["patches"]):
            detections[p] = cli_boxes_scores(patch["detections"], np.float64)
    return detections, report["backend"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--checkpoint", type=Path, default=TOOLS / "checkpoints" / "oneshot.pt")
    parser.add_argument("--sets", default=",".join(SETS), help=f"also: {LOOKALIKES}")
    parser.add_argument("--backend", choices=("wasm", "webgpu", "auto"), default="wasm")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--out", type=Path, default=TOOLS / "results" / "oneshot_shipped.json")
    parser.add_argument(
        "--image-size",
        type=int,
        help="experiment: run PyTorch at this square input instead of the checkpoint's image_size "
        "(the package is built for the checkpoint's, so this needs --skip-browser)",
    )
    parser.add_argument(
        "--zoom",
        metavar="GRID:SIDE:BELOW",
        help="zoomed search (ZoomedDetector) other than the package's manifest input.queryPatch.zoom (the "
        "default), e.g. 3:0.45:0.2 = for queries under 0.2 of the image side, also 3x3 windows of 0.45 "
        "of the side; the browser runs the package's, so another one needs --skip-browser",
    )
    parser.add_argument(
        "--max-detections",
        type=int,
        default=MAX_DETECTIONS,
        help=f"PyTorch: also report same-image AP50 with this many detections kept (the protocol keeps "
        f"{MAX_DETECTIONS}, the runtime returns at most {MAX_DETECTIONS} too)",
    )
    parser.add_argument(
        "--no-zoom", action="store_true", help="search the whole image only (PyTorch, and the CLI's --no-zoom)"
    )
    args = parser.parse_args()
    if args.image_size is not None and not args.skip_browser:
        parser.error(
            "--image-size needs --skip-browser: public/models/oneshot is built for the checkpoint's input size"
        )
    package_zoom = json.loads(PACKAGE_MANIFEST.read_text())["input"]["queryPatch"].get("zoom")
    zoom = (
        None
        if args.no_zoom or package_zoom is None
        else (package_zoom["grid"], package_zoom["side"], package_zoom["below"], package_zoom["nmsIou"])
    )
    if args.zoom is not None:
        if args.no_zoom:
            parser.error("give --zoom or --no-zoom, not both")
        try:
            grid, side, below = args.zoom.split(":")
            zoom = (int(grid), float(side), float(below), package_zoom["nmsIou"] if package_zoom else 0.5)
        except ValueError:
            parser.error(f"--zoom takes GRID:SIDE:BELOW, e.g. 2:0.6:0.2; got {args.zoom!r}")
        package = package_zoom and (package_zoom["grid"], package_zoom["side"], package_zoom["below"])
        if zoom[:3] != package and not args.skip_browser:
            parser.error(f"--zoom {args.zoom} is not the package's zoomed search ({package_zoom}): add --skip-browser")
    torch.set_num_threads(args.threads)
    model, config, step = load_oneshot(args.checkpoint)
    backbone = load_backbone(fetch())
    size = args.image_size or config["image_size"]
    report = {
        "checkpoint": args.checkpoint.name,
        "iteration": step,
        "command": " ".join(sys.argv),
        "image_size": size,
        "protocol": {"max_queries": 60, "cross_images": 5, "seed": 0, "max_detections": MAX_DETECTIONS},
        "zoom": dict(zip(("grid", "side", "below", "nms_iou"), zoom)) if zoom else None,
        "sets": {},
    }
    for name in args.sets.split(","):
        started = time.time()
        samples = oneshot_samples(args.data, name)
        queries = make_queries(samples, 60, 0)
        pairs = make_pairs(samples, queries, 5, 0)
        detector = (
            ZoomedDetector(model, backbone, samples, size, *zoom)
            if zoom
            else RuntimePathDetector(model, backbone, samples, size)
        )
        # one run keeps the larger count: boxes come in score order after NMS, so the first MAX_DETECTIONS are
        # what a MAX_DETECTIONS run returns, and evaluate_oneshot keeps those for the protocol's figures
        detector.max_detections = max(MAX_DETECTIONS, args.max_detections)
        detections = detect_pairs(queries, pairs, detector)
        torch_all = evaluate_oneshot(samples, queries, pairs, detections)
        same = [p for p, pair in enumerate(pairs) if pair[2]]
        same_pairs = [pairs[p] for p in same]
        entry = {
            "images": len(samples),
            "queries": len(queries),
            "pytorch": {k: round(100 * torch_all[k], 2) for k in ("AP50", "AP50_same_image", "AP50_cross_image")},
            "pytorch_seconds": round(time.time() - started, 1),
        }
        for kept in sorted({MAX_DETECTIONS, args.max_detections}):
            same_kept = evaluate_oneshot(
                samples, queries, same_pairs, [detections[p] for p in same], max_detections=kept
            )
            entry[f"pytorch_same_image_top{kept}"] = {
                "AP50": round(100 * same_kept["AP50"], 2),
                "per_class": {c: round(100 * x, 2) for c, x in same_kept["per_class_AP50"].items()},
            }
        if not args.skip_browser:
            started = time.time()
            browser, backend = browser_same_image(samples, queries, same_pairs, args.backend, zoom=zoom is not None)
            torch_same = evaluate_oneshot(samples, queries, same_pairs, [detections[p] for p in same])
            browser_same = evaluate_oneshot(samples, queries, same_pairs, browser)
            entry["same_image_pairs"] = {
                "pytorch": round(100 * torch_same["AP50"], 2),
                "browser": round(100 * browser_same["AP50"], 2),
                "browser_backend": backend,
                "browser_seconds": round(time.time() - started, 1),
            }
        report["sets"][name] = entry
        print(name, json.dumps(entry), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
