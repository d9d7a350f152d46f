"""One-shot by template matching on SSDLite's maps (issue 26): no proposals at all. The patch's own box (its size
and aspect relative to its picture, optionally scaled) is placed at every cell of a dense grid of the target
picture, each placed box is pooled and compared with the patch exactly as the training-free lead compares
proposals (RoIAlign mean of SSDLite taps, centred by the lead's fixed mean, L2-normalised, mean cosine over taps),
and the best boxes after NMS are the detections. Why: the lead's ceiling is its proposals (other instances among
the CenterNet peaks @300: bccd 0.70, tomatoes 0.42, bolts 0.27), while look-alikes and blood cells are mostly
objects of one size, which a placed template covers by construction. Nothing is trained.

Protocol exactly as `oneshot_ssdlite_embed.py` (held-out splits, every look-alikes photo; 60 queries, 5 cross
pictures, seed 0, top 20, query instance out of the targets and its box ignored, 'strict' patch suppression in the
patch's picture; same-image, cross-image, pooled, "cross, class present", same-image with 50 kept). Variant keys:
  grid      template centres per picture side (38 = SSDLite's stride-8 map at 300x300)
  scales    the patch's side times each of these
  taps      SSD tap set (oneshot_ssdlite_embed.TAP_SETS)
  nms       NMS IoU among the placed boxes
  objectness  weight of log(max SSDLite class probability of the anchors overlapping the placed box at IoU >= 0.5)

  cd tools && nice /usr/bin/python3 -m experiments.oneshot_template [--sets ...] \
      [--out experiments/results/oneshot_template.json]

SSDLite outputs are cached as the lead's (.cache/oneshot_v2/ssdlite/<set>/); nothing ships.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torchvision.ops import box_iou, nms

from experiments.oneshot_ssdlite_embed import TAP_SETS, Pictures, evaluate_variant, similarity, ssd_centers
from experiments.oneshot_teacher_embed import MAX_DETECTIONS, SEED, on_patch, positive_cross_pairs
from webdetr_tools.evaluation.oneshot_ap import make_pairs, make_queries
from webdetr_tools.evaluation.oneshot_sets import LOOKALIKES, oneshot_samples
from webdetr_tools.oneshot.ssdlite_embed import SsdLiteMaps

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
SETS = ("coco128", "bccd", "raccoon", "pennfudan", LOOKALIKES)
BASE = {"grid": 38, "scales": (1.0,), "taps": "ssd:c3+c4", "nms": 0.3, "objectness": 0.0}


def template_boxes(width: float, height: float, grid: int, scales) -> torch.Tensor:
    """[grid * grid * len(scales), 4] boxes (0-1 xyxy, clipped) of the patch's size times each scale, centred on
    the cells of a grid x grid lattice."""
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    rows = []
    for s in scales:
        w, h = width * s, height * s
        rows.append(torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1).reshape(-1, 4))
    return torch.cat(rows).clamp(0, 1)


def anchor_objectness(maps: dict, boxes: torch.Tensor) -> torch.Tensor:
    """Per box: the max class probability over SSDLite's decoded anchors that overlap it at IoU >= 0.5 (1e-4 when
    none does)."""
    overlap = box_iou(boxes, maps["boxes"].clamp(0, 1)) >= 0.5
    best = maps["probs"].amax(1)
    return torch.where(overlap, best[None, :], torch.full_like(overlap, 1e-4, dtype=best.dtype)).amax(1)


def detect(pics, query, targets, v, max_detections):
    patch = torch.tensor(query.box, dtype=torch.float32) / pics.size(query.image)
    taps = TAP_SETS[v["taps"]]
    qvec = pics.embed(query.image, patch[None], taps)
    boxes = template_boxes(float(patch[2] - patch[0]), float(patch[3] - patch[1]), v["grid"], v["scales"])
    out = []
    for t in targets:
        score = similarity(qvec, pics.embed(t, boxes, taps))
        if v["objectness"]:
            score = score + v["objectness"] * anchor_objectness(pics.ssd_maps(t), boxes).clamp(min=1e-4).log()
        if t == query.image:
            score = torch.where(on_patch(boxes, patch), torch.full_like(score, -10.0), score)
        keep = nms(boxes, score, v["nms"])[:max_detections]
        keep = keep[score[keep] > -10.0]
        out.append(((boxes[keep] * pics.size(t)).numpy(), score[keep].numpy()))
    return out


def variants():
    rows = [dict(BASE)]
    rows.append({**BASE, "scales": (0.8, 1.0, 1.25)})
    rows.append({**BASE, "taps": "ssd:c4"})
    rows.append({**BASE, "taps": "ssd:c3"})
    rows.append({**BASE, "nms": 0.5})
    rows.append({**BASE, "objectness": 0.1})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--extra", type=Path, help="a JSON list of variants (over BASE) instead of the grid")
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "oneshot_template.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    ssd = SsdLiteMaps()
    centers = ssd_centers(ssd, args.data)
    grid = variants() if not args.extra else [{**BASE, **v} for v in json.loads(args.extra.read_text())]
    report = {
        "command": " ".join(["oneshot_template"] + [f"--{k}={v}" for k, v in vars(args).items()]),
        "protocol": {"max_queries": 60, "cross_images": 5, "seed": SEED, "max_detections": MAX_DETECTIONS},
        "sets": {},
    }
    for name in args.sets.split(","):
        started = time.time()
        samples = oneshot_samples(args.data, name)
        pics = Pictures(None, ssd, REPO / ".cache" / "oneshot_v2" / "ssdlite" / name, samples, centers)
        queries = make_queries(samples, 60, SEED)
        pairs = make_pairs(samples, queries, 5, SEED)
        cross_pos = positive_cross_pairs(samples, queries)
        entry = {"images": len(samples), "queries": len(queries), "pairs": len(pairs), "variants": []}
        for v in grid:
            result = evaluate_variant(pics, samples, queries, pairs, cross_pos, v, detect_fn=detect)
            entry["variants"].append({**v, **result})
            short = {k: result[k] for k in ("AP50", "AP50_same_image", "AP50_cross_image")}
            print(name, json.dumps(v), json.dumps(short), f"{time.time() - started:.0f}s", flush=True)
        report["sets"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
