"""Cache unsupervised box proposals (webdetr_tools/aligndet/proposals.py) for every image of the feature
cache's sets: the pseudo boxes of AlignDet pretraining (tools/experiments/train_aligndet.py).

  # all cached sets -> .cache/proposals/<set>.json
  PYTHONPATH=tools nice -n 10 /usr/bin/python3 tools/experiments/proposals.py
  # smoke run (file marked partial)
  PYTHONPATH=tools nice -n 10 /usr/bin/python3 tools/experiments/proposals.py --sets raccoon --limit 20

Output <out>/<set>.json: {set, params, seed, limit, complete, seconds, images: {image_id: [[x0, y0, x1, y1,
score], ...]}} in source-image pixels, best first. A set whose file is complete with the same params and seed
is skipped (rerun = resume). Seeding: selective search's ranking draws from RandomState([seed, crc32 of
'<set>/<image id>']), so an image's proposals do not depend on the order or subset processed.
"""
from __future__ import annotations

import argparse
import json
import time
import zlib
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="cache graph-based-segmentation box proposals")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--feature-size", type=int, default=320)
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "proposals")
    parser.add_argument("--sets", nargs="*", help="default: every set of the feature cache")
    parser.add_argument("--limit", type=int, help="first N images per set only (smoke runs; marked incomplete)")
    parser.add_argument("--scales", type=int, nargs="*", help="Felzenszwalb scales (default 100 300 800)")
    parser.add_argument("--max-per-image", type=int)
    parser.add_argument("--grouping", choices=("hierarchy", "pairs", "none"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from webdetr_tools.aligndet.proposals import DEFAULTS, propose
    from webdetr_tools.data.datasets import read_rgb
    from webdetr_tools.training.features import FeatureCache, set_samples

    torch.set_num_threads(1)
    params = dict(DEFAULTS)
    if args.scales:
        params["scales"] = tuple(args.scales)
    if args.max_per_image:
        params["max_per_image"] = args.max_per_image
    if args.grouping:
        params["grouping"] = args.grouping
    record = json.loads(json.dumps(params))
    cache = FeatureCache(args.cache, args.feature_size)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets or cache.sets():
        path = args.out / f"{name}.json"
        if path.is_file():
            old = json.loads(path.read_text())
            if old.get("complete") and old.get("params") == record and old.get("seed") == args.seed:
                print(f"{name}: done already ({path})", flush=True)
                continue
        files = {image_id: file for image_id, file, _, _ in set_samples(args.data, name)}
        entries = cache.images(name)[: args.limit] if args.limit else cache.images(name)
        images, started = {}, time.time()
        for k, entry in enumerate(entries):
            rgb = read_rgb(files[entry["id"]])
            rng = np.random.RandomState([args.seed, zlib.crc32(f"{name}/{entry['id']}".encode())])
            boxes, scores = propose(rgb, rng, **params)
            images[entry["id"]] = [
                [round(float(v), 1) for v in b] + [round(float(s), 3)] for b, s in zip(boxes, scores)
            ]
            if (k + 1) % 20 == 0 or k + 1 == len(entries):
                rate = (time.time() - started) / (k + 1)
                print(
                    f"{name}: {k + 1}/{len(entries)} images, {rate:.2f} s/img, "
                    f"{np.mean([len(v) for v in images.values()]):.1f} boxes/img, "
                    f"ETA {rate * (len(entries) - k - 1):.0f} s",
                    flush=True,
                )
        payload = dict(
            set=name,
            params=record,
            seed=args.seed,
            limit=args.limit,
            complete=len(images) == len(cache.images(name)),
            seconds=round(time.time() - started, 1),
            images=images,
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(path)
        print(f"{name}: {len(images)} images -> {path}", flush=True)


if __name__ == "__main__":
    main()
