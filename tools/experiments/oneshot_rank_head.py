"""Learned one-shot ranking head on the teacher's proposals (issue 26, README "Plan this suggests for v2"; model and
loss in `webdetr_tools/oneshot/rank_head.py`).

Stages (each seeded, one JSON config per run under experiments/configs/):
  features  pools, once per picture, the head's inputs from the teacher maps cached by oneshot_teacher_embed.py /
            oneshot_teacher_calibration.py (.cache/oneshot_v2/512/<set>[_train]/<image>.pt): the top-300 class-
            agnostic peaks (boxes, objectness) and every ground-truth box, each as 1,136 centred per-tap
            L2-normalised numbers (fp16) -> .cache/oneshot_v2/512/rank_features/<set>_<split>.pt. Training pictures
            without cached maps (the caches hold 40 per set) run the teacher here (--all-train); their maps are
            not kept.
  train     trains RankHead on the training splits' ground truth of the config's sets: per step, queries drawn
            set -> class -> instance; each against its own picture and cross pictures of its set (some holding
            its class, some random); listwise loss per (query, picture) group. Then evaluates on every set's held-out
            split with the protocol of oneshot_teacher_embed.py (evaluation/oneshot_ap.py: 60 queries, 5 cross
            pictures, seed 0, top 20, query instance out of the targets and its box ignored; plus "cross, class
            present"). Sets not in the config's training sets are unseen classes (leave-one-set-out).
            Config switches (DEFAULT_CONFIG): calibration_weight (the cross-picture calibration term), prior (start
            from the training-free score), project (False: per-tap cosines + geometry only), suppress_patch (the
            lead's hand rule at evaluation); --load re-evaluates saved weights.

Shared with oneshot_synth_groups.py (its sets have SetData's shape, plus ignore boxes): pool_picture, build_batch,
train, load_config, evaluate_and_write.

  cd tools && nice -n 10 /usr/bin/python3 -m experiments.oneshot_rank_head features [--all-train]
  cd tools && nice -n 10 /usr/bin/python3 -m experiments.oneshot_rank_head train \
      --config experiments/configs/oneshot_rank_head_all.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou, nms

from experiments.oneshot_teacher_embed import (
    MAX_DETECTIONS,
    NMS_IOU,
    REPO,
    SEED,
    SETS,
    SHIPPED,
    TOOLS,
    on_patch,
    positive_cross_pairs,
)
from webdetr_tools.evaluation.oneshot_ap import evaluate_oneshot, make_pairs, make_queries
from webdetr_tools.oneshot.rank_head import (
    RankHead,
    calibration_loss,
    decode_deltas,
    encode_deltas,
    head_input,
    listwise_loss,
    pair_geometry,
)
from webdetr_tools.oneshot.teacher_embed import proposals
from webdetr_tools.training.features import set_samples

SIZE = 512
K = 300
CACHE = REPO / ".cache" / "oneshot_v2" / str(SIZE)
FEATURES = CACHE / "rank_features"
# the training-free lead (results/oneshot_teacher_embed.json, objectness 0.1): AP50 (same / cross / cross present)
TRAINING_FREE = {
    "coco128": {"AP50": 40.8, "AP50_same_image": 45.0, "AP50_cross_image": 26.4},
    "bccd": {"AP50": 4.5, "AP50_same_image": 5.0, "AP50_cross_image": 4.6},
    "raccoon": {"AP50": 64.0, "AP50_same_image": 19.2, "AP50_cross_image": 69.5},
    "pennfudan": {"AP50": 66.3, "AP50_same_image": 83.4, "AP50_cross_image": 69.2},
}
DEFAULT_CONFIG = {
    "seed": 0,
    "train_sets": list(SETS),
    "steps": 1500,
    "queries_per_step": 24,
    "cross_with_class": 1,
    "cross_random": 2,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "hidden": 256,
    "embed": 128,
    "rel_hidden": 256,
    "dropout": 0.1,
    "refine": False,
    "refine_weight": 1.0,
    "jitter_query": 0.5,
    "k_train": K,
    "proposals_per_group": 128,
    "top_per_group": 48,
    "cached_train_pictures_only": False,
    "calibration_weight": 0.0,
    "prior": False,
    "project": True,
    "suppress_patch": None,
}


def pool_picture(maps, width, height, gt_boxes, centers, source):
    """One picture's feature-table row from its teacher maps (with "heatp"): the top-K proposals (input px) with
    their objectness and head inputs, and the head inputs of its boxes (`gt_boxes` in source px)."""
    boxes, obj = proposals(maps["heat"], maps["wh"], K)
    boxes = boxes.clamp(0, SIZE)  # as oneshot_teacher_embed.Images.proposals
    scale = torch.tensor([width, height, width, height], dtype=torch.float32) / SIZE
    gt = torch.from_numpy(np.asarray(gt_boxes, np.float32).reshape(-1, 4)) / scale
    return {
        "boxes": boxes,
        "objectness": obj,
        "features": head_input(maps, boxes, centers).half(),
        "gt_features": head_input(maps, gt, centers).half() if len(gt) else torch.zeros(0, 1136).half(),
        "source": source,
    }


def split_samples(data, name, split):
    return [r[2] for r in set_samples(data, name) if r[3] == split]


def load_maps(path):
    maps = {k: v.float() for k, v in torch.load(path).items()}
    maps["heatp"] = maps["heat"].sigmoid()
    return maps


@torch.no_grad()
def extract(data, all_train, log=print):
    """Pooled head inputs per picture (see the module docstring)."""
    centers = torch.load(CACHE / "centers.pt")["mean"]
    teacher = None
    FEATURES.mkdir(parents=True, exist_ok=True)
    for name in SETS:
        for split, cache_dir in (("val", CACHE / name), ("train", CACHE / f"{name}_train")):
            out = FEATURES / f"{name}_{split}.pt"
            table = torch.load(out) if out.is_file() else {}
            samples = split_samples(data, name, split)
            todo = [s for s in samples if s.image.stem not in table]
            if split == "train" and not all_train:
                todo = [s for s in todo if (cache_dir / f"{s.image.stem}.pt").is_file()]
            started = time.time()
            for n, s in enumerate(todo):
                path = cache_dir / f"{s.image.stem}.pt"
                if path.is_file():
                    maps = load_maps(path)
                    source = "cached maps"
                else:
                    if teacher is None:
                        from webdetr_tools.backbones.fetch import fetch
                        from webdetr_tools.oneshot.teacher_embed import TeacherMaps

                        teacher = TeacherMaps(fetch())
                    from webdetr_tools.data.datasets import read_rgb
                    from webdetr_tools.oneshot.teacher_embed import preprocess

                    maps = teacher(preprocess(read_rgb(s.image), SIZE))
                    maps["heatp"] = maps["heat"].sigmoid()
                    source = "teacher run here"
                table[s.image.stem] = pool_picture(maps, s.width, s.height, s.boxes, centers, source)
                if (n + 1) % 20 == 0 or n + 1 == len(todo):
                    torch.save(table, out)
                    log(f"{name} {split} {n + 1}/{len(todo)} {time.time() - started:.0f}s")
            if not todo:
                log(f"{name} {split}: {len(table)} pictures already pooled")


class SetData:
    """One set split's samples with their pooled features (only pictures that have them)."""

    def __init__(self, data, name, split, cached_only=False):
        table = torch.load(FEATURES / f"{name}_{split}.pt")
        if cached_only:  # the 40 training pictures per set whose maps oneshot_teacher_calibration.py cached
            table = {k: v for k, v in table.items() if v["source"] == "cached maps"}
        self.name = name
        self.samples = [s for s in split_samples(data, name, split) if s.image.stem in table]
        self.rows = [table[s.image.stem] for s in self.samples]
        self.scale = [
            torch.tensor([s.width, s.height, s.width, s.height], dtype=torch.float32) / SIZE for s in self.samples
        ]

    def gt_boxes(self, i):
        return torch.from_numpy(np.asarray(self.samples[i].boxes, np.float32).reshape(-1, 4)) / self.scale[i]


def group_targets(data: SetData, t, label, exclude=None):
    """positive [K] (IoU >= 0.5 with an instance of `label` in picture t other than `exclude`), and the index of
    the best-matching instance of any class per proposal with its IoU (for box refinement)."""
    boxes = data.rows[t]["boxes"]
    s = data.samples[t]
    gt = data.gt_boxes(t)
    if not len(gt):
        z = torch.zeros(len(boxes))
        return torch.zeros(len(boxes), dtype=torch.bool), torch.zeros(len(boxes), dtype=torch.long), z
    overlap = box_iou(boxes, gt)  # [K, G]
    same = torch.tensor([lab == label and k != exclude for k, lab in enumerate(s.labels)])
    positive = (overlap[:, same] >= 0.5).any(1) if same.any() else torch.zeros(len(boxes), dtype=torch.bool)
    best_iou, best = overlap.max(1)
    return positive, best, best_iou


def ignored(data, t, label, boxes):
    """Proposals on an unsure detection of the query's class (sets with `ignore`, i.e. the synthetic ones of
    oneshot_synth_groups.py): neither taught as positive nor as negative. All False for labelled sets."""
    if not hasattr(data, "ignore"):
        return torch.zeros(len(boxes), dtype=torch.bool)
    ig_boxes, ig_labels = data.ignore[t]
    same = torch.tensor([lab == label for lab in ig_labels], dtype=torch.bool)
    if not len(ig_labels) or not same.any():
        return torch.zeros(len(boxes), dtype=torch.bool)
    return (box_iou(boxes, ig_boxes[same]) >= 0.5).any(1)


class Sampler:
    """Training groups: queries drawn set -> class -> instance (classes with >= 2 instances in the split, boxes
    >= 8 px, as make_queries), each against its own picture and cross pictures of its set."""

    def __init__(self, sets: list[SetData], config, rng):
        self.sets, self.config, self.rng = sets, config, rng
        self.classes = []
        for data in sets:
            by_class = {}
            for i, s in enumerate(data.samples):
                for k, label in enumerate(s.labels):
                    b = s.boxes[k]
                    if min(b[2] - b[0], b[3] - b[1]) >= 8:
                        by_class.setdefault(label, []).append((i, k))
            holders = {c: sorted({i for i, _ in v}) for c, v in by_class.items()}
            self.classes.append({c: (v, holders[c]) for c, v in by_class.items() if len(v) >= 2})

    def draw(self):
        """-> list of (set index, query image, query instance, query features [D], query box input px)."""
        out = []
        for _ in range(self.config["queries_per_step"]):
            d = int(self.rng.randint(len(self.sets)))
            data, classes = self.sets[d], self.classes[d]
            names = sorted(classes)
            label = names[int(self.rng.randint(len(names)))]
            members, holders = classes[label]
            i, k = members[int(self.rng.randint(len(members)))]
            box = data.gt_boxes(i)[k]
            feat = data.rows[i]["gt_features"][k].float()
            if self.rng.rand() < self.config["jitter_query"]:  # a proposal on the instance: a less exact drag
                overlap = box_iou(data.rows[i]["boxes"], box[None])[:, 0]
                near = torch.nonzero(overlap >= 0.7)[:, 0]
                if len(near):
                    j = int(near[int(self.rng.randint(len(near)))])
                    box, feat = data.rows[i]["boxes"][j], data.rows[i]["features"][j].float()
            targets = [i]
            others = [h for h in holders if h != i]
            if others:
                picks = self.rng.permutation(len(others))[: self.config["cross_with_class"]]
                targets += [others[j] for j in picks]
            rest = [j for j in range(len(data.samples)) if j != i]
            targets += [rest[j] for j in self.rng.permutation(len(rest))[: self.config["cross_random"]]]
            out.append((d, i, k, label, feat, box, targets))
        return out


def pick_proposals(positive, k_train, size, top, rng):
    """Indices of the proposals a group trains on: every positive, the `top` best by objectness, and a random draw
    of the rest up to `size` (a sampled softmax: the whole top 300 per group is 3x slower on this CPU)."""
    n = min(k_train, len(positive))
    chosen = set(torch.nonzero(positive[:n])[:, 0].tolist()) | set(range(min(top, n)))
    rest = [j for j in range(n) if j not in chosen]
    extra = max(size - len(chosen), 0)
    chosen |= {rest[j] for j in rng.permutation(len(rest))[:extra]}
    return torch.tensor(sorted(chosen), dtype=torch.long)


def build_batch(sets, draws, config, rng):
    """The padded (query, picture) groups of one step; proposals on a same-class ignore box are not valid."""
    q, p, geo, pos, valid, boxes_all, match_iou = [], [], [], [], [], [], []
    refine_targets = []
    for d, i, k, label, feat, box, targets in draws:
        data = sets[d]
        for t in targets:
            row = data.rows[t]
            positive, best, best_iou = group_targets(data, t, label, exclude=k if t == i else None)
            idx = pick_proposals(
                positive, config["k_train"], config["proposals_per_group"], config["top_per_group"], rng
            )
            boxes, obj = row["boxes"][idx], row["objectness"][idx]
            q.append(feat)
            p.append(row["features"][idx].float())
            geo.append(pair_geometry(box, boxes, obj, t == i, SIZE))
            pos.append(positive[idx])
            valid.append(~ignored(data, t, label, boxes) | positive[idx])
            boxes_all.append(boxes)
            gt = data.gt_boxes(t)
            refine_targets.append(gt[best[idx]] if len(gt) else boxes)
            match_iou.append(best_iou[idx])
    n = max(len(x) for x in p)

    def pad(xs, value=0):
        pad = torch.nn.functional.pad
        return torch.stack([pad(x, [0, 0] * (x.dim() - 1) + [0, n - len(x)], value=value) for x in xs])

    return {
        "q": torch.stack(q),
        "p": pad(p),
        "geometry": pad(geo),
        "positive": pad(pos, False),
        "valid": pad(valid, False),
        "boxes": pad(boxes_all),
        "refine_targets": pad(refine_targets),
        "match_iou": pad(match_iou),
    }


def make_model(config):
    return RankHead(
        hidden=config["hidden"],
        embed_dim=config["embed"],
        rel_hidden=config["rel_hidden"],
        refine=config["refine"],
        dropout=config["dropout"],
        prior=config["prior"],
        project=config["project"],
    )


def train(sets, config, log=print):
    torch.manual_seed(config["seed"])
    rng = np.random.RandomState(config["seed"])
    model = make_model(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config["lr"], total_steps=config["steps"], pct_start=0.1)
    sampler = Sampler(sets, config, rng)
    started, history, running = time.time(), [], []
    for step in range(config["steps"]):
        batch = build_batch(sets, sampler.draw(), config, rng)
        out = model(batch["q"], batch["p"], batch["geometry"])
        if config["refine"]:
            scores, deltas = out
            near = batch["valid"] & (batch["match_iou"] >= 0.4)
            target = encode_deltas(batch["boxes"], batch["refine_targets"])
            box_loss = torch.nn.functional.smooth_l1_loss(deltas[near], target[near], beta=0.1) if near.any() else 0
        else:
            scores, box_loss = out, 0
        loss = listwise_loss(scores, batch["positive"], batch["valid"]) + config["refine_weight"] * box_loss
        if config["calibration_weight"]:
            loss = loss + config["calibration_weight"] * calibration_loss(scores, batch["positive"], batch["valid"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss))
        if (step + 1) % 100 == 0:
            history.append({"step": step + 1, "loss": round(float(np.mean(running)), 4)})
            log(f"step {step + 1} loss {np.mean(running):.4f} {time.time() - started:.0f}s")
            running = []
    return model, history, time.time() - started


@torch.no_grad()
def detect(model, data: SetData, query, targets, refine, suppress=None):
    """Detections (source px, scores) of one protocol query against its target pictures."""
    i = query.image
    box = torch.tensor(query.box, dtype=torch.float32) / data.scale[i]
    q = data.rows[i]["gt_features"][query.instance].float()[None]
    out = []
    for t in targets:
        row = data.rows[t]
        boxes = row["boxes"]
        geo = pair_geometry(box, boxes, row["objectness"], t == i, SIZE)
        res = model(q, row["features"].float()[None], geo[None])
        if refine:
            scores, deltas = res[0][0], res[1][0]
            boxes = decode_deltas(boxes, deltas).clamp(0, SIZE)
        else:
            scores = res[0]
        if suppress and t == i:  # the lead's hand rule on the patch's own object, for comparison
            scores = torch.where(on_patch(boxes, box, suppress), torch.full_like(scores, -1e4), scores)
        keep = nms(boxes, scores, NMS_IOU)[:MAX_DETECTIONS]
        keep = keep[scores[keep] > -1e4]
        out.append(((boxes[keep] * data.scale[t]).numpy(), scores[keep].numpy()))
    return out


def evaluate(model, data: SetData, refine, suppress=None):
    model.eval()
    samples = data.samples
    queries = make_queries(samples, 60, SEED)
    pairs = make_pairs(samples, queries, 5, SEED)
    cross_pos = positive_cross_pairs(samples, queries)
    dets = {}
    for n, q in enumerate(queries):
        targets = sorted({t for m, t, _ in pairs + cross_pos if m == n})
        for t, d in zip(targets, detect(model, data, q, targets, refine, suppress)):
            dets[(n, t)] = d
    proto = evaluate_oneshot(samples, queries, pairs, [dets[(n, t)] for n, t, _ in pairs])
    pos = evaluate_oneshot(samples, queries, cross_pos, [dets[(n, t)] for n, t, _ in cross_pos])
    r = lambda x: round(100 * x, 2) if x == x else None  # noqa: E731  (NaN -> None)
    return {
        "AP50": r(proto["AP50"]),
        "AP50_same_image": r(proto["AP50_same_image"]),
        "AP50_cross_image": r(proto["AP50_cross_image"]),
        "AP50_cross_image_class_present": r(pos["AP50"]),
        "per_class_AP50": {c: r(x) for c, x in proto["per_class_AP50"].items()},
    }


def load_config(path, **defaults):
    """DEFAULT_CONFIG, then the script's own `defaults`, then the JSON file at `path` (if any) over both."""
    return {**DEFAULT_CONFIG, **defaults, **(json.loads(path.read_text()) if path else {})}


def evaluate_and_write(args, stage, config, model, train_sets, history, seconds, extra=None):
    """The protocol on every set of args.eval_sets (held-out split) -> the report at args.out (`extra` entries
    after the config), and the weights at args.save if given."""
    report = {
        "command": " ".join([stage] + [f"--{k}={v}" for k, v in vars(args).items()]),
        "config": config,
        **(extra or {}),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_pictures": {d.name: len(d.samples) for d in train_sets},
        "train_seconds": round(seconds),
        "history": history,
        "protocol": {"max_queries": 60, "cross_images": 5, "seed": SEED, "max_detections": MAX_DETECTIONS},
        "proposals": {"k": K, "input_size": SIZE, "nms_iou": NMS_IOU},
        "shipped_card": SHIPPED,
        "training_free_lead": TRAINING_FREE,
        "sets": {},
    }
    for name in args.eval_sets.split(","):
        result = evaluate(model, SetData(args.data, name, "val"), config["refine"], config["suppress_patch"])
        result["classes_seen_in_training"] = name in config["train_sets"]
        report["sets"][name] = result
        print(name, json.dumps({k: v for k, v in result.items() if k != "per_class_AP50"}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"config": config, "state_dict": model.state_dict()}, args.save)


def run_train(args):
    config = load_config(args.config)
    torch.set_num_threads(1)
    train_sets = [
        SetData(args.data, name, "train", config["cached_train_pictures_only"]) for name in config["train_sets"]
    ]
    for d in train_sets:
        print(d.name, "train pictures", len(d.samples), flush=True)
    if args.load:  # re-evaluate saved weights (the config's evaluation keys may differ from training's)
        saved = torch.load(args.load)
        model = make_model({**DEFAULT_CONFIG, **saved["config"]})
        model.load_state_dict(saved["state_dict"])
        history, seconds = [], 0.0
    else:
        model, history, seconds = train(train_sets, config)
    evaluate_and_write(args, "oneshot_rank_head train", config, model, train_sets, history, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=("features", "train"))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--all-train", action="store_true", help="features: also training pictures without maps")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--eval-sets", default=",".join(SETS))
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "oneshot_rank_head.json")
    parser.add_argument("--save", type=Path, help="train: where to keep the head's weights (not shipped)")
    parser.add_argument("--load", type=Path, help="train: evaluate these saved weights instead of training")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.stage == "features":
        extract(args.data, args.all_train, lambda m: print(m, flush=True))
    else:
        run_train(args)


if __name__ == "__main__":
    main()
