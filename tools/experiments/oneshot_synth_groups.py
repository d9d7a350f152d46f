"""The one-shot ranking head trained on class-diverse and class-free groups, checked leave-one-set-out (issue 26;
the head, its features and protocol are oneshot_rank_head.py's; the groups are webdetr_tools/oneshot/synth_groups.py).

Stages (seeded; one JSON config per training run under experiments/configs/oneshot_synth_*.json):
  groups    pseudo-label groups on the unlabeled ImageNet photos (unlabeled + unlabeled_extra, minus the 40
            'gallery' photos of tools/results/detector_v2_splits.json) from the cached teacher and SSDLite
            detections (.cache/detector_v2/*/teacher*.json, read only), and paste scenes made from their instances
            (GROUPS), at two size ranges (paste: 2-6 small copies; paste_wide: 1-6 copies up to most of the
            picture) -> .cache/oneshot_v2/synth_groups/{index.json, scenes/*.png, scenes_wide/*.png}
  features  the head's pooled inputs (top-300 teacher peaks and every instance box, as oneshot_rank_head.py
            features) -> .cache/oneshot_v2/synth_groups/{pseudo,paste,paste_wide}.pt
  train     RankHead on the config's synthetic sets ("pseudo", "paste") and labelled training splits
            ("train_sets"), queries drawn set -> group -> instance, the ignore boxes of a query's class neither
            positive nor negative; then the protocol on every set's held-out split (oneshot_rank_head.evaluate);
            --save keeps the weights (not shipped). The pooling, batches, training loop and report are
            oneshot_rank_head.py's (pool_picture, build_batch, train, evaluate_and_write).

  cd tools && nice -n 15 /usr/bin/python3 -m experiments.oneshot_synth_groups groups
  cd tools && nice -n 15 /usr/bin/python3 -m experiments.oneshot_synth_groups features
  cd tools && nice -n 15 /usr/bin/python3 -m experiments.oneshot_synth_groups train \
      --config experiments/configs/oneshot_synth_only.json --out experiments/results/oneshot_synth_only.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from experiments.oneshot_rank_head import SIZE, SetData, evaluate_and_write, load_config, pool_picture, train
from experiments.oneshot_teacher_embed import REPO, SETS, TOOLS
from webdetr_tools.data.datasets import Sample, read_rgb
from webdetr_tools.oneshot.synth_groups import paste_scene, pseudo_instances

OUT = REPO / ".cache" / "oneshot_v2" / "synth_groups"
DETECTIONS = REPO / ".cache" / "detector_v2"
UNLABELED = ("unlabeled", "unlabeled_extra")
GROUPS = {
    "seed": 0,
    "confident": 0.35,
    "agreed": 0.15,
    "ssd_agree": 0.5,
    "ambiguous": 0.1,
    "paste_sources": 200,  # instances cut out; each pasted into `scenes_per_source` photos
    "scenes_per_source": 2,
    "source_min_side": 40,
    "source_area": [0.02, 0.6],  # of its photo: not specks, not the whole photo
    "wide_base": [0.15, 0.85],  # paste_wide: the crop's longest side / the photo's shorter side, log-uniform
    "wide_copies": [1, 6],
}


def unlabeled_photos(data: Path):
    """[(set, stem, path)] of the unlabeled photos, the gallery left out."""
    splits = json.loads((TOOLS / "results" / "detector_v2_splits.json").read_text())
    gallery = {Path(n).stem for n in splits["unlabeled_extra"]["gallery"]}
    out = []
    for name in UNLABELED:
        for p in sorted((data / name).iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.stem not in gallery:
                out.append((name, p.stem, p))
    return out


def _entry(image, width, height, boxes, labels, ignore_boxes, ignore_labels, **extra):
    return {
        "image": str(image),
        "width": int(width),
        "height": int(height),
        "boxes": np.round(np.asarray(boxes, np.float32).reshape(-1, 4), 2).tolist(),
        "labels": list(labels),
        "ignore_boxes": np.round(np.asarray(ignore_boxes, np.float32).reshape(-1, 4), 2).tolist(),
        "ignore_labels": list(ignore_labels),
        **extra,
    }


def make_groups(data: Path, log=print):
    cfg = GROUPS
    rng = np.random.RandomState(cfg["seed"])
    teacher = {n: json.loads((DETECTIONS / n / "teacher.json").read_text()) for n in UNLABELED}
    ssd = {n: json.loads((DETECTIONS / n / "teacher_ssdlite.json").read_text()) for n in UNLABELED}
    photos, pseudo = unlabeled_photos(data), []
    for name, stem, path in photos:
        if stem not in teacher[name]:
            continue
        boxes, classes, ig_boxes, ig_classes = pseudo_instances(
            teacher[name][stem],
            ssd[name].get(stem),
            cfg["confident"],
            cfg["agreed"],
            cfg["ssd_agree"],
            cfg["ambiguous"],
        )
        with Image.open(path) as im:
            width, height = im.size
        pseudo.append(
            _entry(
                path,
                width,
                height,
                boxes,
                [f"coco{c}" for c in classes],
                ig_boxes,
                [f"coco{c}" for c in ig_classes],
                photo=f"{name}/{stem}",
            )
        )
    # paste sources: sizeable confident instances; backgrounds: photos without the source's class at all
    lo, hi = cfg["source_area"]
    sources = [
        (i, k)
        for i, e in enumerate(pseudo)
        for k, b in enumerate(e["boxes"])
        if min(b[2] - b[0], b[3] - b[1]) >= cfg["source_min_side"]
        and lo <= (b[2] - b[0]) * (b[3] - b[1]) / (e["width"] * e["height"]) <= hi
    ]
    sources = [sources[j] for j in sorted(rng.permutation(len(sources))[: cfg["paste_sources"]])]
    (OUT / "scenes").mkdir(parents=True, exist_ok=True)
    cache = {}

    def rgb(i):
        if i not in cache:
            cache.clear()  # one or two photos at a time is enough, the draws are in order
            cache[i] = read_rgb(Path(pseudo[i]["image"]))
        return cache[i]

    def cut(i, k):
        x0, y0, x1, y1 = [int(round(v)) for v in pseudo[i]["boxes"][k]]
        return rgb(i)[max(y0, 0) : y1, max(x0, 0) : x1].copy()

    def make_scenes(rng, folder, base_range=None, copies=(2, 6)):
        scenes = []
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        for s, (i, k) in enumerate(sources):
            cls = pseudo[i]["labels"][k]
            crop = cut(i, k)
            others = [j for j, (oi, ok) in enumerate(sources) if pseudo[oi]["labels"][ok] != cls]
            for r in range(cfg["scenes_per_source"]):
                d = others[int(rng.randint(len(others)))]
                distractor = cut(*sources[d])
                while True:
                    b = int(rng.randint(len(pseudo)))
                    e = pseudo[b]
                    if b != i and cls not in e["labels"] and cls not in e["ignore_labels"]:
                        break
                image, boxes, is_target = paste_scene(
                    read_rgb(Path(e["image"])), crop, distractor, rng, copies, base_range=base_range
                )
                labels = [f"paste{s}" if t else f"paste{d}" for t in is_target]
                # the photo's own objects stay as instances unless a paste hides much of them
                keep_boxes, keep_labels = list(boxes), labels
                ig_boxes, ig_labels = list(e["ignore_boxes"]), list(e["ignore_labels"])
                for bb, lab in zip(e["boxes"], e["labels"]):
                    bb = np.asarray(bb, np.float32)
                    inter = np.clip(np.minimum(bb[2:], boxes[:, 2:]) - np.maximum(bb[:2], boxes[:, :2]), 0, None)
                    hidden = inter.prod(1).sum() / max(float((bb[2] - bb[0]) * (bb[3] - bb[1])), 1e-6)
                    (keep_boxes if hidden <= 0.3 else ig_boxes).append(bb)
                    (keep_labels if hidden <= 0.3 else ig_labels).append(lab)
                out = OUT / folder / f"paste{s:03d}_{r}.png"
                Image.fromarray(image).save(out)
                scenes.append(
                    _entry(
                        out,
                        image.shape[1],
                        image.shape[0],
                        keep_boxes,
                        keep_labels,
                        ig_boxes,
                        ig_labels,
                        source=pseudo[i]["photo"],
                        background=e["photo"],
                        copies=int(is_target.sum()),
                    )
                )
            if (s + 1) % 50 == 0:
                log(f"{folder}: paste sources {s + 1}/{len(sources)}")
        return scenes

    scenes = make_scenes(rng, "scenes")
    # the same sources at sizes up to most of the picture, 1-6 copies (its own stream: the first set is unchanged)
    wide = make_scenes(np.random.RandomState(cfg["seed"] + 1), "scenes_wide", cfg["wide_base"], cfg["wide_copies"])
    index = {"config": cfg, "pseudo": pseudo, "paste": scenes, "paste_wide": wide}
    (OUT / "index.json").write_text(json.dumps(index) + "\n")
    multi = sum(any(e["labels"].count(c) >= 2 for c in set(e["labels"])) for e in pseudo)
    log(
        f"pseudo photos {len(pseudo)} ({sum(bool(e['labels']) for e in pseudo)} with instances, {multi} with a "
        f"class twice), instances {sum(len(e['labels']) for e in pseudo)}, classes "
        f"{len({c for e in pseudo for c in e['labels']})}; paste scenes {len(scenes)}, copies "
        f"{sum(e['copies'] for e in scenes)}; wide scenes {len(wide)}, copies {sum(e['copies'] for e in wide)}"
    )


@torch.no_grad()
def extract(log=print):
    from webdetr_tools.backbones.fetch import fetch
    from webdetr_tools.oneshot.teacher_embed import TeacherMaps, preprocess

    index = json.loads((OUT / "index.json").read_text())
    centers = torch.load(REPO / ".cache" / "oneshot_v2" / str(SIZE) / "centers.pt")["mean"]
    teacher = TeacherMaps(fetch())
    for name in ("pseudo", "paste", "paste_wide"):
        out = OUT / f"{name}.pt"
        table = torch.load(out) if out.is_file() else {}
        todo = [e for e in index[name] if e["labels"] and e["image"] not in table]
        started = time.time()
        for n, e in enumerate(todo):
            maps = teacher(preprocess(read_rgb(Path(e["image"])), SIZE))
            maps["heatp"] = maps["heat"].sigmoid()
            table[e["image"]] = pool_picture(maps, e["width"], e["height"], e["boxes"], centers, "teacher run here")
            if (n + 1) % 100 == 0 or n + 1 == len(todo):
                torch.save(table, out)
                log(f"{name} {n + 1}/{len(todo)} {time.time() - started:.0f}s")


class SynthData(SetData):
    """A synthetic set in SetData's shape (samples, rows, scale, gt_boxes) plus per-picture ignore boxes (read by
    oneshot_rank_head.ignored)."""

    def __init__(self, name):
        index = json.loads((OUT / "index.json").read_text())
        table = torch.load(OUT / f"{name}.pt")
        entries = [e for e in index[name] if e["image"] in table]
        self.name = name
        self.samples = [Sample(Path(e["image"]), e["width"], e["height"], e["boxes"], e["labels"]) for e in entries]
        self.rows = [table[e["image"]] for e in entries]
        self.scale = [torch.tensor([e["width"], e["height"]] * 2, dtype=torch.float32) / SIZE for e in entries]
        self.ignore = [
            (torch.tensor(e["ignore_boxes"], dtype=torch.float32).reshape(-1, 4) / sc, e["ignore_labels"])
            for e, sc in zip(entries, self.scale)
        ]


def run_train(args):
    config = load_config(args.config, synthetic_sets=["pseudo", "paste"])
    if config["refine"]:
        raise ValueError("box refinement is not part of this experiment")
    sets = [SynthData(n) for n in config["synthetic_sets"]]
    sets += [SetData(args.data, n, "train", config["cached_train_pictures_only"]) for n in config["train_sets"]]
    for d in sets:
        print(d.name, "train pictures", len(d.samples), flush=True)
    model, history, seconds = train(sets, config, lambda m: print(m, flush=True))
    evaluate_and_write(args, "oneshot_synth_groups train", config, model, sets, history, seconds, {"groups": GROUPS})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=("groups", "features", "train"))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--eval-sets", default=",".join(SETS))
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "oneshot_synth_groups.json")
    parser.add_argument("--save", type=Path, help="train: where to keep the head's weights (not shipped)")
    args = parser.parse_args()
    if args.stage == "train" and args.config is None:
        parser.error("train needs --config (one JSON per run under experiments/configs/)")
    torch.set_num_threads(1)
    if args.stage == "groups":
        make_groups(args.data, lambda m: print(m, flush=True))
    elif args.stage == "features":
        extract(lambda m: print(m, flush=True))
    else:
        run_train(args)


if __name__ == "__main__":
    main()
