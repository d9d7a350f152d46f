"""One-shot AP50: "drag a box around one object, find the others like it", as a number.

Protocol (every choice below is fixed by the arguments, and seeded):

Queries
- Candidates are the ground-truth instances of the evaluation split whose box is at least `min_size`
  pixels wide and high and whose class has at least 2 instances in the split (so something is left to
  find). Classes are taken in sorted order and each contributes at most ceil(max_queries / #classes)
  instances, drawn with `np.random.RandomState(seed)` (a permutation per class), so a dominant class
  (BCCD's RBC) does not crowd out the rare ones. The chosen queries are sorted by (image, instance).

Pairs (query, target image)
- Every query is paired with its own image (a "same-image" pair) and with `cross_images` other images
  of the split, drawn uniformly without replacement by `RandomState(seed + 1 + query_number)` among the
  images other than its own ("cross-image" pairs; they may or may not contain the class: images without
  it are there to punish false alarms).
- Targets of a pair: the ground-truth instances of the query's class in the target image, except, in
  the same-image pair, the query instance itself. The query box is an ignore region there: a detection
  that matches no target (greedy matching below) but overlaps the query box with IoU >= the threshold
  is dropped, neither a hit nor a false alarm (finding the thing you dragged is not a result).

Scoring
- A detector returns, per pair, boxes (xyxy, target-image pixels) and scores. Only each pair's
  `max_detections` best-scored boxes count (ties broken by order). Each pair is one "image" of a
  COCO-style evaluation whose class is the query's class (`coco_ap.evaluate`): per class, the
  detections of all its pairs are ranked together by score, matched greedily to the unmatched target
  with the highest IoU >= 0.5, precision made monotone and sampled at 101 recall points. Scores must
  therefore be comparable across pairs (a calibrated "this matches the patch" score, not a per-pair
  rank). AP50 = mean over classes that have targets.
- Reported: AP50 over all pairs, over same-image pairs only, over cross-image pairs only (each a
  fraction in [0, 1], NaN where no pair of that kind has a target), and per class (all pairs).

API
  OneShotQuery(image, instance, box, label)
  make_queries(samples, max_queries=60, seed=0, min_size=8) -> list[OneShotQuery]
  make_pairs(samples, queries, cross_images=5, seed=0) -> list[(query_number, target_image, same_image)]
  evaluate_oneshot(samples, queries, pairs, detections, iou=0.5, max_detections=20) -> dict
  detect_pairs(queries, pairs, detect, progress=None) -> detections, one (boxes, scores) per pair: calls
      detect(query, target_images) -> list of (boxes [D,4], scores [D]) once per query, over its pairs
  run_protocol(samples, detect, ...) -> dict: builds queries and pairs, detect_pairs, evaluates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .coco_ap import ImageResult, box_iou, evaluate


@dataclass(frozen=True)
class OneShotQuery:
    image: int  # index of the sample the query comes from
    instance: int  # index of the query box in that sample's boxes
    box: tuple  # (x0, y0, x1, y1) pixels
    label: str


def make_queries(samples, max_queries: int = 60, seed: int = 0, min_size: float = 8) -> list[OneShotQuery]:
    by_class: dict[str, list[tuple[int, int]]] = {}
    for i, s in enumerate(samples):
        for k, label in enumerate(s.labels):
            by_class.setdefault(label, []).append((i, k))
    eligible = {}
    for label in sorted(by_class):
        if len(by_class[label]) < 2:
            continue
        sized = [
            (i, k)
            for i, k in by_class[label]
            if min(samples[i].boxes[k][2] - samples[i].boxes[k][0], samples[i].boxes[k][3] - samples[i].boxes[k][1])
            >= min_size
        ]
        if sized:
            eligible[label] = sized
    if not eligible:
        return []
    per_class = math.ceil(max_queries / len(eligible))
    rng = np.random.RandomState(seed)
    chosen = []
    for label in sorted(eligible):
        cands = eligible[label]
        order = rng.permutation(len(cands))[:per_class]
        chosen += [cands[j] for j in order]
    if len(chosen) > max_queries:  # ceil() overshoots: drop a seeded random few
        chosen = [chosen[j] for j in rng.permutation(len(chosen))[:max_queries]]
    chosen = sorted(chosen)
    return [OneShotQuery(i, k, tuple(float(v) for v in samples[i].boxes[k]), samples[i].labels[k]) for i, k in chosen]


def make_pairs(samples, queries, cross_images: int = 5, seed: int = 0) -> list[tuple[int, int, bool]]:
    pairs = []
    for n, q in enumerate(queries):
        pairs.append((n, q.image, True))
        others = [i for i in range(len(samples)) if i != q.image]
        take = min(cross_images, len(others))
        picked = np.random.RandomState(seed + 1 + n).permutation(len(others))[:take]
        pairs += [(n, others[j], False) for j in sorted(picked)]
    return pairs


def _targets(samples, query: OneShotQuery, target_image: int, same_image: bool) -> np.ndarray:
    s = samples[target_image]
    keep = [k for k, label in enumerate(s.labels) if label == query.label and not (same_image and k == query.instance)]
    return s.boxes[keep].reshape(-1, 4).astype(np.float64)


def _drop_query_hits(boxes, scores, targets, query_box, iou: float):
    """Greedy matching in score order; unmatched detections on the query box are ignored."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    taken = np.zeros(len(targets), bool)
    keep = np.ones(len(boxes), bool)
    on_query = box_iou(boxes, np.asarray(query_box, np.float64))[:, 0] >= iou if len(boxes) else keep
    for d in range(len(boxes)):
        if len(targets):
            ious = box_iou(boxes[d], targets)[0]
            ious[taken] = -1
            best = int(np.argmax(ious))
            if ious[best] >= iou:
                taken[best] = True
                continue
        if on_query[d]:
            keep[d] = False
    return boxes[keep], scores[keep]


def _ap50(results) -> float:
    if not any(len(r.gt_boxes) for r in results):
        return float("nan")
    return evaluate(results, max_detections=10**9)["AP50"]


def evaluate_oneshot(samples, queries, pairs, detections, iou: float = 0.5, max_detections: int = 20) -> dict:
    """detections[p] = (boxes [D,4] xyxy pixels of the target image, scores [D]) for pairs[p]."""
    if iou != 0.5:
        raise ValueError("the protocol reports AP50; coco_ap.evaluate's AP50 is the 0.5 threshold")
    classes = sorted({q.label for q in queries})
    class_id = {c: i for i, c in enumerate(classes)}
    results, same, result_class = [], [], []
    for (n, t, same_image), (boxes, scores) in zip(pairs, detections, strict=True):
        q = queries[n]
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:max_detections]
        boxes, scores = boxes[top], scores[top]
        targets = _targets(samples, q, t, same_image)
        if same_image:
            boxes, scores = _drop_query_hits(boxes, scores, targets, q.box, iou)
        c = class_id[q.label]
        results.append(ImageResult(targets, np.full(len(targets), c), boxes, scores, np.full(len(boxes), c)))
        same.append(same_image)
        result_class.append(q.label)
    same = np.array(same, bool)
    per_class = {c: _ap50([r for r, rc in zip(results, result_class) if rc == c]) for c in classes}
    return {
        "AP50": _ap50(results),
        "AP50_same_image": _ap50([r for r, s in zip(results, same) if s]),
        "AP50_cross_image": _ap50([r for r, s in zip(results, same) if not s]),
        "per_class_AP50": per_class,
        "queries": len(queries),
        "pairs": len(pairs),
        "targets": int(sum(len(r.gt_boxes) for r in results)),
    }


def detect_pairs(queries, pairs, detect, progress=None) -> list:
    """detections[p] for pairs[p]: detect(query, target_images: list[int]) -> list of (boxes, scores), one per
    target image, called once per query with the target images of its pairs."""
    detections = [None] * len(pairs)
    for n, q in enumerate(queries):
        idx = [p for p, pair in enumerate(pairs) if pair[0] == n]
        outs = detect(q, [pairs[p][1] for p in idx])
        for p, out in zip(idx, outs, strict=True):
            detections[p] = out
        if progress:
            progress(n + 1, len(queries))
    return detections


def run_protocol(
    samples,
    detect,
    max_queries: int = 60,
    cross_images: int = 5,
    seed: int = 0,
    max_detections: int = 20,
    min_size: float = 8,
    progress=None,
) -> dict:
    """detect(query, target_images: list[int]) -> list of (boxes, scores), one per target image."""
    queries = make_queries(samples, max_queries, seed, min_size)
    pairs = make_pairs(samples, queries, cross_images, seed)
    detections = detect_pairs(queries, pairs, detect, progress)
    out = evaluate_oneshot(samples, queries, pairs, detections, 0.5, max_detections)
    out["protocol"] = dict(
        max_queries=max_queries,
        cross_images=cross_images,
        seed=seed,
        max_detections=max_detections,
        min_size=min_size,
        iou=0.5,
    )
    return out
