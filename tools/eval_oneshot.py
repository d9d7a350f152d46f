"""One-shot AP50 (webdetr_tools/evaluation/oneshot_ap.py) of the sliding-window cosine baseline or of a
one-shot model checkpoint, on the held-out split of each labeled set; writes a results JSON.

  /usr/bin/python3 tools/eval_oneshot.py --method baseline [--query-feature roi|crop] --out tools/results/x.json
  /usr/bin/python3 tools/eval_oneshot.py --method model --checkpoint runs/oneshot/last.pt --out ...

Held-out splits are the feature cache's 'val' split (training/features.py: BCCD's test set; a seeded
20 % of raccoon, pennfudan, coco128). Images come from the feature cache (input 320, stretched).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch


from webdetr_tools.data.datasets import read_rgb
from webdetr_tools.evaluation.oneshot_ap import run_protocol
from webdetr_tools.oneshot import baseline
from webdetr_tools.oneshot.patches import crop_patches, pooled_features
from webdetr_tools.training.features import FeatureCache, set_samples

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent

EVAL_SETS = ("bccd", "raccoon", "pennfudan", "coco128")


def eval_samples(data_root: Path, cache: FeatureCache, name: str):
    cached = {img["id"] for img in cache.images(name, "val")}
    rows = [r for r in set_samples(data_root, name) if r[3] == "val" and r[0] in cached]
    return [r[2] for r in rows], [r[0] for r in rows]


def _pixels(boxes_norm, sample):
    scale = torch.tensor([sample.width, sample.height, sample.width, sample.height], dtype=torch.float32)
    return (boxes_norm * scale).numpy()


class BaselineDetector:
    def __init__(
        self,
        cache,
        name,
        samples,
        ids,
        query_feature="roi",
        backbone=None,
        patch_size=128,
        max_detections=20,
        center="none",
        nms_iou=0.3,
    ):
        self.cache, self.name, self.samples, self.ids = cache, name, samples, ids
        self.query_feature, self.backbone, self.patch_size = query_feature, backbone, patch_size
        self.max_detections, self.center, self.nms_iou = max_detections, center, nms_iou
        self.channels = cache.index(name)["channels"]
        self._grids = {}

    def grid(self, i):
        if i not in self._grids:
            self._grids[i] = baseline.grid_features(self.cache.features(self.name, self.ids[i]))
        return self._grids[i]

    @torch.no_grad()
    def __call__(self, query, targets):
        s = self.samples[query.image]
        box = np.array(query.box)
        box_norm = box / [s.width, s.height, s.width, s.height]
        if self.query_feature == "roi":
            qvec = baseline.roi_descriptor(self.grid(query.image), box_norm)
        else:
            patches = crop_patches(read_rgb(s.image), box[None], self.patch_size)
            qvec = pooled_features(self.backbone(patches))[0]
        wh = (box_norm[2] - box_norm[0], box_norm[3] - box_norm[1])
        outs = []
        for t in targets:
            grid = self.grid(t)
            center = grid.mean(dim=(1, 2)) if self.center == "image" else None
            boxes, scores = baseline.detect(
                grid, qvec, self.channels, wh, max_detections=self.max_detections, nms_iou=self.nms_iou, center=center
            )
            outs.append((_pixels(boxes, self.samples[t]), scores.numpy()))
        return outs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=("baseline", "model"), required=True)
    parser.add_argument("--query-feature", choices=("roi", "crop"), default="roi")
    parser.add_argument(
        "--center",
        choices=("image", "none"),
        default="none",
        help="baseline: subtract the target image's mean feature before the cosine",
    )
    parser.add_argument("--nms", type=float, default=0.3, help="baseline NMS IoU")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--sets", nargs="*", default=list(EVAL_SETS))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--max-queries", type=int, default=60)
    parser.add_argument("--cross-images", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cache = FeatureCache(args.cache, args.size)
    backbone = None
    if args.method == "model" or args.query_feature == "crop":
        from webdetr_tools.backbones.fetch import fetch
        from webdetr_tools.backbones.centernet_mobilenetv3 import CenterNetMobileNetV3

        backbone = CenterNetMobileNetV3(fetch()).eval()
    model = None
    if args.method == "model":
        from webdetr_tools.oneshot.model import load_checkpoint

        model = load_checkpoint(args.checkpoint)
    report = {
        "method": args.method,
        "command": "/usr/bin/python3 tools/eval_oneshot.py " + shlex.join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sets": {},
    }
    if args.method == "baseline":
        report.update(query_feature=args.query_feature, center=args.center, nms_iou=args.nms)
    else:
        report["checkpoint"] = str(args.checkpoint)
    for name in args.sets:
        start = time.time()
        samples, ids = eval_samples(args.data, cache, name)
        if args.method == "baseline":
            detector = BaselineDetector(
                cache, name, samples, ids, args.query_feature, backbone, center=args.center, nms_iou=args.nms
            )
        else:
            from webdetr_tools.oneshot.model import ModelDetector, cached_levels

            detector = ModelDetector(model, backbone, samples, cached_levels(cache, name, ids))
        out = run_protocol(samples, detector, args.max_queries, args.cross_images, args.seed)
        out["images"] = len(samples)
        out["seconds"] = round(time.time() - start, 1)
        report["sets"][name] = out
        print(
            f"{name}: AP50 {out['AP50']:.3f} (same-image {out['AP50_same_image']:.3f}, cross-image "
            f"{out['AP50_cross_image']:.3f}) {out['queries']} queries, {out['pairs']} pairs, "
            f"{out['seconds']} s",
            flush=True,
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return report


if __name__ == "__main__":
    main()
