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

Both sides run the package's zoomed search for small queries (manifest input.queryPatch.zoom; ZoomedDetector here,
the engine in the browser) unless --no-zoom. Experiments (PyTorch only, --skip-browser): --image-size N (another
input size), --zoom GRID:SIDE:BELOW (another zoomed search).
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from build_models import model_input  # noqa: E402
from fetch_backbone import fetch  # noqa: E402
from webdetr_tools.evaluation.cli_detections import cli_boxes_scores  # noqa: E402
from webdetr_tools.evaluation.oneshot_ap import (OneShotQuery, detect_pairs, evaluate_oneshot, make_pairs,  # noqa: E402
                                                  make_queries)
from webdetr_tools.oneshot.model import ModelDetector  # noqa: E402
from webdetr_tools.oneshot.patches import crop_patches, roi_descriptors  # noqa: E402
from webdetr_tools.oneshot.zoom import WHOLE_IMAGE, from_window, merge_views, query_window, to_window, zoom_windows  # noqa: E402
from webdetr_tools.ship.centernet import load_backbone  # noqa: E402
from webdetr_tools.ship.oneshot_package import load_oneshot  # noqa: E402
from webdetr_tools.training.features import set_samples  # noqa: E402

SETS = ("bccd", "raccoon", "pennfudan", "coco128")
MAX_DETECTIONS = 20
PACKAGE_MANIFEST = REPO / "public" / "models" / "oneshot" / "manifest.json"


def whole_pixel_box(box, sample):
    x0, y0, x1, y1 = (math.floor(v + 0.5) for v in box)
    x0, y0 = min(max(x0, 0), sample.width - 1), min(max(y0, 0), sample.height - 1)
    return x0, y0, max(min(x1, sample.width), x0 + 1), max(min(y1, sample.height), y0 + 1)


class RuntimePathDetector(ModelDetector):
    """Memory from the PIL-stretched image (as the browser); the patch from the whole-pixel box: its crop
    through the backbone ('crop' models), or the query image's own taps pooled over it ('roi'). Output boxes
    are not clamped (nor are the CLI's)."""

    clamp_boxes = False

    def __init__(self, model, backbone, samples, size):
        super().__init__(model, backbone, samples, self._stretched_levels, MAX_DETECTIONS)
        self.size, self._taps = size, {}

    def _stretched_levels(self, i):
        if i not in self._taps:
            self._taps[i] = self.backbone(model_input(Image.open(self.samples[i].image).convert("RGB"), self.size))
        return self._taps[i]

    def patch_box(self, query):
        """[1, 1, 4]: the runtime's patch input for 'roi' models, the whole-pixel rectangle over the image size."""
        s = self.samples[query.image]
        box = torch.tensor(whole_pixel_box(query.box, s), dtype=torch.float32)
        return (box / torch.tensor([s.width, s.height, s.width, s.height], dtype=torch.float32)).view(1, 1, 4)

    def crop(self, query):
        s = self.samples[query.image]
        rgb = np.asarray(Image.open(s.image).convert("RGB"))
        return crop_patches(rgb, np.array([whole_pixel_box(query.box, s)]), self.model.config.patch_size)


class ZoomedDetector(RuntimePathDetector):
    """Zoomed search (webdetr_tools/oneshot/zoom.py; the runtime's src/worker/zoomed-search.ts follows it): a 'roi'
    model searching the whole image and, for a query whose longer side is under `below` of its image, grid x grid
    overlapping windows of `side` too, each cropped on whole pixels and PIL-stretched to the input (as the runtime's
    crop kernel); the window views' descriptor is pooled from the query image's window that holds the query. The
    views' boxes (clamped to their view) are merged by NMS at `nms_iou`."""

    def __init__(self, model, backbone, samples, size, grid, side, below, nms_iou=0.5):
        if model.config.patch_descriptor != "roi":
            raise ValueError("zoomed search pools the query's descriptor from a window view: 'roi' models only")
        super().__init__(model, backbone, samples, size)
        self.windows, self.below, self.nms_iou = zoom_windows(grid, side), below, nms_iou
        self._view_taps, self._view_memory = {}, {}

    def view_levels(self, i, window):
        if window == WHOLE_IMAGE:
            return self._stretched_levels(i)
        if (i, window) not in self._view_taps:
            # the runtime's crop path (patches.crop_patches = the crop kernel): whole-pixel window, cropped, stretched
            s = self.samples[i]
            pixels = np.array([[window[0] * s.width, window[1] * s.height, window[2] * s.width, window[3] * s.height]])
            view = crop_patches(np.asarray(Image.open(s.image).convert("RGB")), pixels, self.size)
            self._view_taps[(i, window)] = self.backbone(view)
        return self._view_taps[(i, window)]

    def view_memory(self, i, window):
        if window == WHOLE_IMAGE:
            return self.memory(i)
        if (i, window) not in self._view_memory:
            self._view_memory[(i, window)] = self.encoding(self.view_levels(i, window))
        return self._view_memory[(i, window)]

    @torch.no_grad()
    def __call__(self, query, targets):
        box = self.patch_box(query)
        views = [(WHOLE_IMAGE, self.descriptor(query), box)]
        # Whether it zooms, and where, in float64 from the whole-pixel box, as the runtime decides (planZoom): in
        # float32 a box of exactly `below`, or with an edge on a window's, can fall on the other side.
        s = self.samples[query.image]
        x0, y0, x1, y1 = whole_pixel_box(query.box, s)
        relative = (x0 / s.width, y0 / s.height, x1 / s.width, y1 / s.height)
        small = max(relative[2] - relative[0], relative[3] - relative[1]) < self.below
        window = query_window(relative, self.windows) if small else None
        if window is not None:
            window_box = to_window(box, window)
            desc = roi_descriptors(self.view_levels(query.image, window), window_box, self.model.config.roi_samples)
            views += [(w, desc, window_box) for w in self.windows]
        outs = []
        for t in targets:
            boxes, scores = [], []
            for w, desc, patch_box in views:
                xyxy, score = self.relative_detections(self.view_levels(t, w), self.view_memory(t, w), desc, patch_box)
                boxes.append(from_window(xyxy.clamp(0, 1), w))
                scores.append(score)
            ts = self.samples[t]
            xyxy, score = merge_views(boxes, scores, self.nms_iou, self.max_detections)
            xyxy = xyxy * torch.tensor([ts.width, ts.height, ts.width, ts.height], dtype=torch.float32)
            outs.append((xyxy.numpy(), score.numpy()))
        return outs


@torch.no_grad()
def zoomed_search(model, backbone, image, size, zoom, boxes):
    """The runtime's one-shot search on one picture (ZoomedDetector, zoom: the package's input.queryPatch.zoom):
    for each query box (x0, y0, x1, y1 source pixels, whole-pixel edges), alone, its (xyxy pixels [N, 4], scores
    [N]), the best MAX_DETECTIONS. For fixtures and example pictures (build_models.py, render_examples.py)."""
    with Image.open(image) as rgb:
        sample = SimpleNamespace(image=Path(image), width=rgb.width, height=rgb.height)
    detector = ZoomedDetector(model, backbone, [sample], size, zoom["grid"], zoom["side"], zoom["below"], zoom["nmsIou"])
    return [detector(OneShotQuery(image=0, instance=0, box=tuple(box), label="query"), [0])[0] for box in boxes]


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
        command = ["node", str(REPO / "bin" / "webdetr.mjs"), "detect", *images, "--model",
                   str(REPO / "public" / "models" / "oneshot"), "--patches-file", str(patches_file), "--threshold", "0",
                   "--max-detections", str(MAX_DETECTIONS), "--json", "--backend", backend]
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
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--backend", choices=("wasm", "webgpu", "auto"), default="wasm")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--out", type=Path, default=TOOLS / "results" / "oneshot_shipped.json")
    parser.add_argument("--image-size", type=int,
                        help="experiment: run PyTorch at this square input instead of the checkpoint's image_size "
                             "(the package is built for the checkpoint's, so this needs --skip-browser)")
    parser.add_argument("--zoom", metavar="GRID:SIDE:BELOW",
                        help="zoomed search (ZoomedDetector) other than the package's manifest input.queryPatch.zoom (the "
                             "default), e.g. 3:0.45:0.2 = for queries under 0.2 of the image side, also 3x3 windows of 0.45 "
                             "of the side; the browser runs the package's, so another one needs --skip-browser")
    parser.add_argument("--no-zoom", action="store_true",
                        help="search the whole image only (PyTorch, and the CLI's --no-zoom)")
    args = parser.parse_args()
    if args.image_size is not None and not args.skip_browser:
        parser.error("--image-size needs --skip-browser: public/models/oneshot is built for the checkpoint's input size")
    package_zoom = json.loads(PACKAGE_MANIFEST.read_text())["input"]["queryPatch"].get("zoom")
    zoom = None if args.no_zoom or package_zoom is None else (
        package_zoom["grid"], package_zoom["side"], package_zoom["below"], package_zoom["nmsIou"])
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
    torch.set_num_threads(2)
    model, config, step = load_oneshot(args.checkpoint)
    backbone = load_backbone(fetch())
    size = args.image_size or config["image_size"]
    report = {"checkpoint": args.checkpoint.name, "iteration": step, "command": " ".join(sys.argv), "image_size": size,
              "protocol": {"max_queries": 60, "cross_images": 5, "seed": 0, "max_detections": MAX_DETECTIONS},
              "zoom": dict(zip(("grid", "side", "below", "nms_iou"), zoom)) if zoom else None, "sets": {}}
    for name in args.sets.split(","):
        started = time.time()
        rows = [r for r in set_samples(args.data, name) if r[3] == "val"]
        samples = [r[2] for r in rows]
        queries = make_queries(samples, 60, 0)
        pairs = make_pairs(samples, queries, 5, 0)
        detector = (ZoomedDetector(model, backbone, samples, size, *zoom) if zoom
                    else RuntimePathDetector(model, backbone, samples, size))
        detections = detect_pairs(queries, pairs, detector)
        torch_all = evaluate_oneshot(samples, queries, pairs, detections)
        same = [p for p, pair in enumerate(pairs) if pair[2]]
        entry = {"images": len(samples), "queries": len(queries),
                 "pytorch": {k: round(100 * torch_all[k], 2) for k in ("AP50", "AP50_same_image", "AP50_cross_image")},
                 "pytorch_seconds": round(time.time() - started, 1)}
        if not args.skip_browser:
            started = time.time()
            same_pairs = [pairs[p] for p in same]
            browser, backend = browser_same_image(samples, queries, same_pairs, args.backend, zoom=zoom is not None)
            torch_same = evaluate_oneshot(samples, queries, same_pairs, [detections[p] for p in same])
            browser_same = evaluate_oneshot(samples, queries, same_pairs, browser)
            entry["same_image_pairs"] = {"pytorch": round(100 * torch_same["AP50"], 2),
                                         "browser": round(100 * browser_same["AP50"], 2),
                                         "browser_backend": backend, "browser_seconds": round(time.time() - started, 1)}
        report["sets"][name] = entry
        print(name, json.dumps(entry), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
