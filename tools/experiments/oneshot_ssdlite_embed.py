"""Is SSDLite MobileNetV2 (COCO) a better source than the CenterNet teacher for the training-free one-shot lead
(issue 26, `oneshot_teacher_embed.py`): (a) class-agnostic proposals (its 1,917 decoded anchors, objectness = max
of the 80 class sigmoids, class-agnostic NMS, top K) and / or (b) patch and box embeddings (RoIAlign mean of its
MobileNetV2 maps, or the 80-class probability vector of the best-overlapping anchor), alone or next to the
teacher's taps? Pieces in `webdetr_tools/oneshot/ssdlite_embed.py`; nothing is trained.

Same protocol and scoring as the lead: held-out splits, `evaluation/oneshot_ap.py` (60 queries, 5 cross images,
seed 0, top 20, query instance out, its box ignored), "cross, class present" pairs, score = mean cosine over taps
(each centred by a fixed mean over the lead's 48 seeded unlabeled photos, L2-normalised) + objectness x log
objectness of the proposal's own source, 'strict' patch suppression in the patch's picture, NMS 0.5. The row
proposals=centernet, taps=cn, objectness=0.1 is the lead's (reproduced exactly: it checks the port of the pooling
to 0-1 coordinates). Also per variant the cross-picture calibration of the README: over the protocol's
cross-image pairs whose picture holds the class, how often the top detection is an instance ("top1") and how often
one pair's best instance outscores another pair's best false alarm ("separation", all ordered pairs of pairs).

  cd tools && nice -n 10 /usr/bin/python3 -m experiments.oneshot_ssdlite_embed \
      [--sets coco128,bccd,raccoon,pennfudan] [--out experiments/results/oneshot_ssdlite_embed.json]

Teacher maps come from the lead's cache (.cache/oneshot_v2/512/<set>/, made there if missing); SSDLite outputs are
cached (fp16) under .cache/oneshot_v2/ssdlite/<set>/<image>.pt; nothing there ships.
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
    CENTER_PHOTOS,
    MAX_DETECTIONS,
    NMS_IOU,
    SEED,
    SETS,
    SHIPPED,
    Images,
    fixed_centers,
    on_patch,
    positive_cross_pairs,
)
from webdetr_tools.backbones.fetch import fetch as fetch_teacher
from webdetr_tools.data.datasets import load_unlabeled, read_rgb
from webdetr_tools.evaluation.oneshot_ap import evaluate_oneshot, make_pairs, make_queries
from webdetr_tools.evaluation.oneshot_sets import LOOKALIKES, oneshot_samples
from webdetr_tools.oneshot.ssdlite_embed import (
    CLASS_TAP,
    SSD_TAPS,
    SsdLiteMaps,
    anchor_proposals,
    embed_normalised,
    map_means,
    pool_normalised,
    preprocess,
)
from webdetr_tools.oneshot.teacher_embed import TeacherMaps

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
TEACHER_SIZE = 512
RECALL_K = (20, 50, 100, 300, 1000)
CN_TAPS = ("neck4", "neck8", "neck16", "c5")
# tap sets: "cn:" taps are the teacher's (as the lead), "ssd:" SSDLite's
TAP_SETS = {
    "cn": tuple(f"cn:{t}" for t in CN_TAPS),
    "cn:heat": ("cn:heatp",),
    "ssd:c3": ("ssd:c3",),
    "ssd:c4": ("ssd:c4",),
    "ssd:c5": ("ssd:c5",),
    "ssd:x6": ("ssd:x6",),
    "ssd:cls": ("ssd:cls",),
    "ssd:c4+c5": ("ssd:c4", "ssd:c5"),
    "ssd:c3+c4+c5+x6": ("ssd:c3", "ssd:c4", "ssd:c5", "ssd:x6"),
    "cn+ssd:c4+c5": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:c4", "ssd:c5"),
    "cn+ssd:all": tuple(f"cn:{t}" for t in CN_TAPS) + tuple(f"ssd:{t}" for t in SSD_TAPS),
    "cn+ssd:cls": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:cls",),
    "cn:heat+ssd:cls": ("cn:heatp", "ssd:cls"),
    "cn+ssd:c4+cls": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:c4", "ssd:cls"),
    "ssd:c3+c4": ("ssd:c3", "ssd:c4"),
    "cn+ssd:c4": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:c4",),
    "ssd:c3+cls": ("ssd:c3", "ssd:cls"),
    "cn+ssd:c3": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:c3",),
    "cn+ssd:c3+c4": tuple(f"cn:{t}" for t in CN_TAPS) + ("ssd:c3", "ssd:c4"),
}
LEAD = {"proposals": "centernet", "k": 300, "ssd_nms": 0.7, "taps": "cn", "objectness": 0.1}
# same-image AP50 is also reported with this many detections kept, to see what the protocol's top 20 costs on
# pictures with 20 or more instances (look-alikes' tomatoes and bolts)
WIDE_DETECTIONS = 50


class Pictures:
    """Teacher maps / peaks (through the lead's `Images`) and SSDLite outputs of one set's pictures, all boxes in
    0-1 picture coordinates."""

    def __init__(self, teacher_images, ssd, cache, samples, centers):
        self.cn, self.ssd, self.cache, self.samples, self.centers = teacher_images, ssd, cache, samples, centers
        self._ssd, self._props, self._emb = {}, {}, {}

    def ssd_maps(self, i):
        if i not in self._ssd:
            path = self.cache / f"{self.samples[i].image.stem}.pt"
            if path.is_file():
                maps = {k: v.float() for k, v in torch.load(path).items()}
            else:
                maps = self.ssd(preprocess(read_rgb(self.samples[i].image)))
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save({k: v.half() if k not in ("boxes", "probs") else v for k, v in maps.items()}, path)
            self._ssd[i] = maps
        return self._ssd[i]

    def size(self, i):
        s = self.samples[i]
        return torch.tensor([s.width, s.height, s.width, s.height], dtype=torch.float32)

    def proposals(self, i, source, k, ssd_nms=0.7):
        key = (i, source, k, ssd_nms)
        if key not in self._props:
            if source == "centernet":
                boxes, obj = self.cn.proposals(i)
                boxes, obj = boxes[:k] / TEACHER_SIZE, obj[:k]
            elif source == "ssd":
                m = self.ssd_maps(i)
                boxes, obj = anchor_proposals(m["boxes"], m["probs"], k, ssd_nms)
            else:
                raise ValueError(source)
            self._props[key] = boxes, obj
        return self._props[key]

    def embed(self, i, boxes, taps):
        out = {}
        cn_maps = self.cn.maps(i) if any(t.startswith("cn:") for t in taps) else None
        for t in taps:
            model, name = t.split(":")
            if model == "cn":
                v = pool_normalised(cn_maps[name], boxes)
                out[t] = torch.nn.functional.normalize(v - self.centers[t], dim=1)
            else:
                center = {name: self.centers[t]}
                out[t] = embed_normalised(self.ssd_maps(i), boxes, [name], center)[name]
        return out

    def proposal_embeddings(self, i, v):
        key = (i, v["proposals"], v["k"], v["ssd_nms"], v["taps"])
        if key not in self._emb:
            self._emb = {kk: e for kk, e in self._emb.items() if kk[1:] == key[1:]}  # one variant at a time
            boxes = self.proposals(i, v["proposals"], v["k"], v["ssd_nms"])[0]
            self._emb[key] = self.embed(i, boxes, TAP_SETS[v["taps"]])
        return self._emb[key]


def similarity(query, targets, balanced=False):
    """Mean cosine over the taps; balanced: the teacher's taps count as one (their mean cosine), so in "cn + ssd"
    tap sets each model's view weighs the same as each SSDLite tap, not four against one."""
    cosines = {t: targets[t] @ query[t][0] for t in query}
    if balanced and any(t.startswith("cn:") for t in cosines):
        cn = torch.stack([c for t, c in cosines.items() if t.startswith("cn:")]).mean(0)
        cosines = {"cn": cn, **{t: c for t, c in cosines.items() if not t.startswith("cn:")}}
    return torch.stack(list(cosines.values())).mean(0)


def detect(pics, query, targets, v, max_detections=MAX_DETECTIONS):
    """Detections (source px, scores) for one query against each target picture, variant v (the lead's detect
    in 0-1 coordinates, 'strict' suppression), the best max_detections after NMS."""
    patch = torch.tensor(query.box, dtype=torch.float32) / pics.size(query.image)
    qvec = pics.embed(query.image, patch[None], TAP_SETS[v["taps"]])
    out = []
    for t in targets:
        boxes, obj = pics.proposals(t, v["proposals"], v["k"], v["ssd_nms"])
        score = similarity(qvec, pics.proposal_embeddings(t, v), v.get("balanced", False))
        if v["objectness"]:
            score = score + v["objectness"] * obj.clamp(min=1e-4).log()
        out.append(ranked_detections(boxes, score, patch if t == query.image else None, pics.size(t), max_detections))
    return out


def ranked_detections(boxes, score, patch, size, max_detections):
    """The protocol's last step: in the patch's own picture (patch given) boxes on the patch are out ('strict'),
    then NMS and the best max_detections, as (source px, scores)."""
    if patch is not None:
        score = torch.where(on_patch(boxes, patch), torch.full_like(score, -10.0), score)
    keep = nms(boxes, score, NMS_IOU)[:max_detections]
    keep = keep[score[keep] > -10.0]
    return (boxes[keep] * size).numpy(), score[keep].numpy()


def calibration(samples, queries, pairs, dets):
    """top1 and separation over the protocol's cross-image pairs whose picture holds the query's class."""
    best_true, best_false, top1 = [], [], []
    for (n, t, same), (boxes, scores) in zip(pairs, dets):
        q, s = queries[n], samples[t]
        if same or q.label not in s.labels:
            continue
        gt = torch.from_numpy(s.boxes[[k for k, lab in enumerate(s.labels) if lab == q.label]]).float()
        hit = (box_iou(torch.from_numpy(boxes).float(), gt).amax(1) >= 0.5).numpy() if len(boxes) else np.zeros(0, bool)
        top1.append(bool(len(boxes)) and bool(hit[np.argmax(scores)]))
        best_true.append(scores[hit].max() if hit.any() else -np.inf)
        best_false.append(scores[~hit].max() if (~hit).any() else -np.inf)
    a, b = np.array(best_true)[:, None], np.array(best_false)[None, :]
    off = ~np.eye(len(best_true), dtype=bool)
    return {
        "pairs": len(top1),
        "top1": round(float(np.mean(top1)), 3) if top1 else None,
        "separation": round(float((a > b)[off].mean()), 3) if len(top1) > 1 else None,
    }


def evaluate_variant(pics, samples, queries, pairs, cross_pos, v, detect_fn=None):
    """The protocol's figures (top MAX_DETECTIONS), and same-image AP50 per class and with WIDE_DETECTIONS kept.
    Detection runs once with WIDE_DETECTIONS: NMS output is in score order, so its first MAX_DETECTIONS are what
    a MAX_DETECTIONS run returns, and evaluate_oneshot keeps those. detect_fn(pics, query, targets, v,
    max_detections) -> per target (boxes px, scores): this module's detect unless another study passes its own."""
    detect_fn = detect_fn or detect
    per_query = {}
    for n, q in enumerate(queries):
        targets = sorted({t for m, t, _ in pairs + cross_pos if m == n})
        per_query[n] = dict(zip(targets, detect_fn(pics, q, targets, v, WIDE_DETECTIONS)))
    dets = [per_query[n][t] for n, t, _ in pairs]
    proto = evaluate_oneshot(samples, queries, pairs, dets, max_detections=MAX_DETECTIONS)
    pos = evaluate_oneshot(
        samples, queries, cross_pos, [per_query[n][t] for n, t, _ in cross_pos], max_detections=MAX_DETECTIONS
    )
    same = [p for p, pair in enumerate(pairs) if pair[2]]
    same_pairs, same_dets = [pairs[p] for p in same], [dets[p] for p in same]
    same_top = evaluate_oneshot(samples, queries, same_pairs, same_dets, max_detections=MAX_DETECTIONS)
    same_wide = evaluate_oneshot(samples, queries, same_pairs, same_dets, max_detections=WIDE_DETECTIONS)
    r = lambda x: round(100 * x, 2) if x == x else None  # noqa: E731  (NaN -> None)
    return {
        "AP50": r(proto["AP50"]),
        "AP50_same_image": r(proto["AP50_same_image"]),
        "AP50_cross_image": r(proto["AP50_cross_image"]),
        "AP50_cross_image_class_present": r(pos["AP50"]),
        "AP50_same_image_per_class": {c: r(x) for c, x in same_top["per_class_AP50"].items()},
        f"AP50_same_image_top{WIDE_DETECTIONS}": r(same_wide["AP50"]),
        f"AP50_same_image_per_class_top{WIDE_DETECTIONS}": {c: r(x) for c, x in same_wide["per_class_AP50"].items()},
        "calibration": calibration(
            samples, queries, pairs, [(b[:MAX_DETECTIONS], s[:MAX_DETECTIONS]) for b, s in dets]
        ),
    }


def recall_at_k(pics, sources, per_label=False):
    """{source: recall @K of all instances and of the "other instances" (class twice or more in the picture)};
    a source is (name, proposals(i) -> boxes 0-1 in rank order). per_label: also recall @K of each label's
    instances (for sets with few labels, as the look-alikes)."""
    out = {}
    for name, propose in sources.items():
        hits = {k: [0, 0] for k in RECALL_K}
        counts = [0, 0]
        label_hits, label_counts = {}, {}
        for i, s in enumerate(pics.samples):
            if not len(s.boxes):
                continue
            boxes = propose(i) * pics.size(i)
            overlap = box_iou(torch.from_numpy(s.boxes).float(), boxes)
            others = np.array([s.labels.count(label) >= 2 for label in s.labels])
            counts[0] += len(s.boxes)
            counts[1] += int(others.sum())
            for k in RECALL_K:
                found = (overlap[:, :k] >= 0.5).any(1).numpy()
                hits[k][0] += int(found.sum())
                hits[k][1] += int((found & others).sum())
                for label, hit in zip(s.labels, found):
                    label_hits.setdefault(label, {kk: 0 for kk in RECALL_K})[k] += int(hit)
            for label in s.labels:
                label_counts[label] = label_counts.get(label, 0) + 1
        out[name] = {
            "instances": counts[0],
            "other_instances": counts[1],
            **{
                f"@{k}": {
                    "all": round(hits[k][0] / max(counts[0], 1), 3),
                    "others": round(hits[k][1] / max(counts[1], 1), 3),
                }
                for k in RECALL_K
            },
        }
        if per_label:
            out[name]["per_label"] = {
                label: {f"@{k}": round(label_hits[label][k] / label_counts[label], 3) for k in RECALL_K}
                for label in sorted(label_counts)
            }
    return out


def interleave(a, b):
    """a's and b's boxes alternately (rank order kept), so the first K hold K/2 of each."""
    n = max(len(a), len(b))
    rows = [x[j : j + 1] for j in range(n) for x in (a, b) if j < len(x)]
    return torch.cat(rows)


def ssd_centers(ssd, data):
    """The SSDLite taps' fixed centres over the lead's CENTER_PHOTOS seeded unlabeled photos."""
    photos = load_unlabeled(data / "unlabeled")
    photos = [photos[j] for j in sorted(np.random.RandomState(SEED).permutation(len(photos))[:CENTER_PHOTOS])]
    maps_list = [ssd(preprocess(read_rgb(p))) for p in photos]
    return {f"ssd:{t}": c for t, c in map_means(maps_list, [*SSD_TAPS, CLASS_TAP]).items()}


def variants():
    rows = [dict(LEAD)]
    for taps in TAP_SETS:
        rows.append({**LEAD, "taps": taps})
    for taps in TAP_SETS:
        rows.append({**LEAD, "proposals": "ssd", "taps": taps})
    for obj in (0.0, 0.05, 0.2):
        for taps in ("cn", "ssd:c4+c5", "cn+ssd:c4+c5"):
            rows.append({**LEAD, "proposals": "ssd", "taps": taps, "objectness": obj})
    for obj in (0.0, 0.2):
        rows.append({**LEAD, "taps": "cn+ssd:c4+c5", "objectness": obj})
    for nms_iou in (0.5, None):
        rows.append({**LEAD, "proposals": "ssd", "taps": "cn", "ssd_nms": nms_iou})
    rows.append({**LEAD, "proposals": "ssd", "taps": "cn", "k": 100})
    unique = []
    for r in rows:
        if r not in unique:
            unique.append(r)
    return unique


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS), help="also: lookalikes (every photo of the look-alikes set)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lead-only", action="store_true", help="only the lead's row (the reproduction check)")
    parser.add_argument("--extra", type=Path, help="a JSON list of variants to evaluate instead of the grid")
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "oneshot_ssdlite_embed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    teacher = TeacherMaps(fetch_teacher())
    ssd = SsdLiteMaps()
    teacher_cache = REPO / ".cache" / "oneshot_v2" / str(TEACHER_SIZE)
    centers = {f"cn:{t}": c for t, c in fixed_centers(teacher, TEACHER_SIZE, teacher_cache, args.data)["mean"].items()}
    centers.update(ssd_centers(ssd, args.data))
    grid = [dict(LEAD)] if args.lead_only else variants()
    if args.extra:
        grid = [dict(LEAD)] + [{**LEAD, **v} for v in json.loads(args.extra.read_text())]
    report = {
        "command": " ".join(["oneshot_ssdlite_embed"] + [f"--{k}={v}" for k, v in vars(args).items()]),
        "protocol": {"max_queries": 60, "cross_images": 5, "seed": SEED, "max_detections": MAX_DETECTIONS},
        "wide_detections": WIDE_DETECTIONS,
        "nms_iou": NMS_IOU,
        "lead": LEAD,
        "tap_sets": TAP_SETS,
        "shipped_card": SHIPPED,
        "sets": {},
    }
    for name in args.sets.split(","):
        started = time.time()
        samples = oneshot_samples(args.data, name)
        teacher_images = Images(teacher, TEACHER_SIZE, teacher_cache / name, samples, 1000)
        pics = Pictures(teacher_images, ssd, REPO / ".cache" / "oneshot_v2" / "ssdlite" / name, samples, centers)
        queries = make_queries(samples, 60, SEED)
        pairs = make_pairs(samples, queries, 5, SEED)
        cross_pos = positive_cross_pairs(samples, queries)
        k_max = max(RECALL_K)
        sources = {
            "centernet": lambda i: pics.proposals(i, "centernet", k_max)[0],
            "ssd_nms0.7": lambda i: pics.proposals(i, "ssd", k_max, 0.7)[0],
            "ssd_nms0.5": lambda i: pics.proposals(i, "ssd", k_max, 0.5)[0],
            "ssd_no_nms": lambda i: pics.proposals(i, "ssd", k_max, None)[0],
            "centernet+ssd_nms0.7 (half each)": lambda i: interleave(
                pics.proposals(i, "centernet", k_max)[0], pics.proposals(i, "ssd", k_max, 0.7)[0]
            ),
        }
        entry = {
            "images": len(samples),
            "queries": len(queries),
            "pairs": len(pairs),
            "class_present_cross_pairs": len(cross_pos),
            "ssd_proposals_after_nms0.7_median": int(
                np.median([len(pics.proposals(i, "ssd", k_max, 0.7)[0]) for i in range(len(samples))])
            ),
            "recall": recall_at_k(pics, sources, per_label=name == LOOKALIKES),
            "variants": [],
        }
        print(name, "recall", json.dumps(entry["recall"]), f"{time.time() - started:.0f}s", flush=True)
        for v in grid:
            result = evaluate_variant(pics, samples, queries, pairs, cross_pos, v)
            entry["variants"].append({**v, **result})
            print(name, json.dumps(v), json.dumps(result), f"{time.time() - started:.0f}s", flush=True)
        report["sets"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
