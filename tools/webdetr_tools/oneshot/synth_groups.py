"""Class-diverse and class-free "same thing" groups for training the one-shot ranking head (issue 26): the head
trained on the four labelled sets memorises their classes (bccd 43.6 seen, 2.8 left out), so it needs groups whose
classes it is never scored on.

Pseudo-label groups (`pseudo_instances`): the CenterNet teacher's cached detections on an unlabeled photo
([x0, y0, x1, y1, score, coco80 class], source pixels), per-class NMS; a detection is an instance when the teacher
is confident (score >= `confident`) or when it is fairly sure (>= `agreed`) and the SSDLite teacher found the same
class on the same box (IoU >= 0.5, score >= `ssd_agree`). Same-class instances in a photo or across photos form a
group. Detections below that but above `ambiguous` (either teacher) are returned as ignore boxes: a proposal on
one is neither a positive nor a negative for a query of its class (a missed instance must not be taught as a
false alarm).

Paste scenes (`paste_scene`): one object crop pasted 2-6 times (or, with `base_range`, 1-6 times at sizes up to
most of the picture; scaled 0.6-1.5x, flipped at random, slight colour jitter, feathered edges so the paste seam
is not the cue) onto another photo, plus one distractor crop pasted 1-2 times: the copies are a group whatever the
object is, the distractor copies and the photo's own objects are the hard negatives. Every choice comes from the
caller's RandomState (seeded, deterministic).

API
  nms_detections(dets [N,6], iou=0.5) -> [M,6] per-class greedy NMS by score
  pseudo_instances(teacher [N,6], ssdlite [N,6] | None, confident=0.35, agreed=0.15, ssd_agree=0.5,
      ambiguous=0.1, min_side=8) -> (boxes [K,4], classes [K] int, ignore_boxes [J,4], ignore_classes [J] int)
  paste_scene(background HxWx3 uint8, crop hxwx3 uint8, distractor hxwx3 uint8 | None, rng, copies=(2, 6),
      scale=(0.6, 1.5), base=None, max_overlap=0.15, base_range=None) -> (image HxWx3 uint8, boxes [n,4],
      is_target [n] bool)
"""
from __future__ import annotations

import numpy as np


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lower = np.maximum(box[:2], boxes[:, :2])
    upper = np.minimum(box[2:4], boxes[:, 2:4])
    inter = np.clip(upper - lower, 0, None).prod(1)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-6)


def _covered(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of `box` inside each of `boxes`."""
    lower = np.maximum(box[:2], boxes[:, :2])
    upper = np.minimum(box[2:4], boxes[:, 2:4])
    inter = np.clip(upper - lower, 0, None).prod(1)
    return inter / max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-6)


def nms_detections(dets, iou: float = 0.5) -> np.ndarray:
    dets = np.asarray(dets, np.float32).reshape(-1, 6)
    keep = []
    for cls in np.unique(dets[:, 5]):
        rows = dets[dets[:, 5] == cls]
        rows = rows[np.argsort(-rows[:, 4], kind="stable")]
        while len(rows):
            keep.append(rows[0])
            rows = rows[1:][_iou(rows[0], rows[1:]) < iou]
    out = np.array(keep, np.float32).reshape(-1, 6)
    return out[np.argsort(-out[:, 4], kind="stable")]


def pseudo_instances(
    teacher,
    ssdlite=None,
    confident: float = 0.35,
    agreed: float = 0.15,
    ssd_agree: float = 0.5,
    ambiguous: float = 0.1,
    min_side: float = 8.0,
):
    t = nms_detections(teacher)
    s = nms_detections(ssdlite if ssdlite is not None else np.zeros((0, 6)))
    sides = np.minimum(t[:, 2] - t[:, 0], t[:, 3] - t[:, 1])
    keep = []
    for j, row in enumerate(t):
        if sides[j] < min_side or row[4] < agreed:
            continue
        same = s[s[:, 5] == row[5]]
        agree = len(same) and ((_iou(row, same) >= 0.5) & (same[:, 4] >= ssd_agree)).any()
        if row[4] >= confident or agree:
            keep.append(j)
    # one object, two classes: the teacher's duplicates of a box under another class are not a second instance
    chosen = []
    for j in keep:
        if not chosen or (_iou(t[j], t[chosen]) < 0.8).all():
            chosen.append(j)
    boxes, classes = t[chosen, :4], t[chosen, 5].astype(np.int64)
    unsure = [row for j, row in enumerate(t) if j not in chosen and row[4] >= ambiguous]
    for row in s[s[:, 4] >= max(ambiguous, 0.3)]:  # SSDLite's scores run higher than the teacher's
        same = boxes[classes == int(row[5])]
        if not len(same) or (_iou(row, same) < 0.5).all():
            unsure.append(row)
    unsure = np.array(unsure, np.float32).reshape(-1, 6)
    return boxes, classes, unsure[:, :4], unsure[:, 5].astype(np.int64)


def _feather(h: int, w: int, fraction: float = 0.12) -> np.ndarray:
    """Alpha [h, w, 1]: 1 inside, ramping to ~0 over the outer `fraction` of each side."""

    def ramp(n):
        edge = max(fraction * n, 1.0)
        x = np.arange(n, dtype=np.float32) + 0.5
        return np.clip(np.minimum(x, n - x) / edge, 0, 1)

    return (ramp(h)[:, None] * ramp(w)[None, :])[..., None]


def _resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))


def _place(rng, width, height, w, h, placed, max_overlap, attempts=60):
    for _ in range(attempts):
        x0 = rng.uniform(0, width - w)
        y0 = rng.uniform(0, height - h)
        box = np.array([x0, y0, x0 + w, y0 + h], np.float32)
        if not placed:
            return box
        others = np.array(placed, np.float32)
        if (_iou(box, others) <= max_overlap).all() and (_covered(box, others) <= 0.3).all():
            return box
    return None


def paste_scene(
    background: np.ndarray,
    crop: np.ndarray,
    distractor,
    rng: np.random.RandomState,
    copies=(2, 6),
    scale=(0.6, 1.5),
    base=None,
    max_overlap: float = 0.15,
    base_range=None,
):
    """base: the crop's longest side before the per-copy scale, as a fraction of the background's shorter side
    (default drawn in [0.18, 0.35]; shrunk with the count so six copies still fit). base_range (lo, hi): instead
    draw base log-uniform in it first and then only as many copies as fit (about 0.5 / base^2), so scenes also
    hold one or two big objects, as raccoon's and pennfudan's pictures do."""
    image = background.astype(np.float32).copy()
    height, width = image.shape[:2]
    if base_range is not None:
        base = float(np.exp(rng.uniform(np.log(base_range[0]), np.log(base_range[1]))))
        fit = int(np.clip(np.floor(0.5 / base**2), copies[0], copies[1]))
        n = int(rng.randint(copies[0], fit + 1))
    else:
        n = int(rng.randint(copies[0], copies[1] + 1))
    if base is None:
        base = rng.uniform(0.18, 0.35) * min(1.0, np.sqrt(3.0 / n))
    jobs = [(crop, True)] * n
    if distractor is not None:
        jobs += [(distractor, False)] * int(rng.randint(1, 3))
    placed, target = [], []
    for source, is_target in jobs:
        ch, cw = source.shape[:2]
        side = base * min(width, height) * rng.uniform(*scale)
        factor = side / max(ch, cw)
        if base_range is not None:  # big copies: fit the picture rather than being skipped
            factor = min(factor, 0.95 * width / cw, 0.95 * height / ch)
        w, h = max(int(round(cw * factor)), 4), max(int(round(ch * factor)), 4)
        if w >= width or h >= height:
            continue
        box = _place(rng, width, height, w, h, placed, max_overlap)
        if box is None:
            continue
        patch = _resize(source, w, h).astype(np.float32)
        if rng.rand() < 0.5:
            patch = patch[:, ::-1]
        patch = np.clip(patch * rng.uniform(0.85, 1.15) * rng.uniform(0.93, 1.07, size=3), 0, 255)
        x0, y0 = int(round(box[0])), int(round(box[1]))
        x0, y0 = min(x0, width - w), min(y0, height - h)
        region = image[y0 : y0 + h, x0 : x0 + w]
        alpha = _feather(h, w)
        image[y0 : y0 + h, x0 : x0 + w] = alpha * patch + (1 - alpha) * region
        placed.append([x0, y0, x0 + w, y0 + h])
        target.append(is_target)
    boxes = np.array(placed, np.float32).reshape(-1, 4)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), boxes, np.array(target, bool)
