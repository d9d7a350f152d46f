"""The "first photos" gallery (tools/gallery/first_photos.json): is a detector fully right on plain
everyday photos, silent on object-free pictures, and free of duplicate boxes?

Protocol (issue 34), at one score threshold (the package's suggested one):
- a photo is fully right when every required group (a list of acceptable class names: a police van may be
  "car" or "truck") has a detection >= threshold whose class is in the group, and the top detection is
  >= threshold with a class that is required or acceptable;
- an object-free picture is right when no detection reaches the threshold;
- a duplicate is two boxes of one class, both >= threshold, with IoU >= 0.7.

API
  load_gallery(path) -> dict (the JSON)
  resolve(source, data_root, cache_dir) -> Path of the picture ("shared:", "skimage:", "generated:" sources;
      generated pictures are written to cache_dir once)
  object_free_image(kind) -> uint8 [360, 480, 3] (seeded, deterministic)
  score_gallery(gallery, detections, threshold) -> report dict; detections: {source: [(label, score, xyxy)]}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

DUPLICATE_IOU = 0.7
GENERATED_SIZE = (360, 480)  # height, width
GENERATED_KINDS = (
    "linear-gradient",
    "radial-gradient",
    "sky",
    "smooth-noise",
    "colour-noise",
    "stripes",
    "plain-grey",
    "wood",
)


def load_gallery(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _smooth(rng: np.random.RandomState, shape, cells: int) -> np.ndarray:
    """Value noise: a coarse random grid, bilinearly enlarged (PIL), in [0, 1]."""
    coarse = (rng.rand(cells, cells) * 255).astype(np.uint8)
    big = Image.fromarray(coarse).resize((shape[1], shape[0]), Image.BILINEAR)
    return np.asarray(big, np.float64) / 255.0


def object_free_image(kind: str) -> np.ndarray:
    """A picture with no object in it, the same every time (seed fixed per kind)."""
    if kind not in GENERATED_KINDS:
        raise ValueError(f"unknown generated picture {kind!r}; known: {', '.join(GENERATED_KINDS)}")
    height, width = GENERATED_SIZE
    rng = np.random.RandomState(GENERATED_KINDS.index(kind))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / (width - 1), y / (height - 1)
    if kind == "linear-gradient":
        a, b = np.array([30, 90, 200.0]), np.array([250, 180, 60.0])
        rgb = a + (b - a) * ((u + v) / 2)[..., None]
    elif kind == "radial-gradient":
        r = np.clip(np.hypot(u - 0.5, v - 0.5) / 0.7, 0, 1)
        rgb = np.array([255, 240, 200.0]) * (1 - r[..., None]) + np.array([60, 20, 90.0]) * r[..., None]
    elif kind == "sky":
        base = np.array([90, 150, 230.0]) * (1 - v[..., None]) + np.array([190, 215, 245.0]) * v[..., None]
        clouds = np.clip(_smooth(rng, (height, width), 6) * 1.6 - 0.7, 0, 1)[..., None]
        rgb = base * (1 - clouds) + 250 * clouds
    elif kind == "smooth-noise":
        rgb = np.stack([_smooth(rng, (height, width), 8) for _ in range(3)], -1) * 255
    elif kind == "colour-noise":
        rgb = rng.randint(0, 256, (height, width, 3)).astype(np.float64)
    elif kind == "stripes":
        rgb = np.where((np.floor(x / 24) % 2 == 0)[..., None], [200, 40, 40.0], [240, 230, 220.0])
    elif kind == "plain-grey":
        rgb = np.full((height, width, 3), 128.0)
    else:  # wood: rings bent by smooth noise
        rings = np.sin((np.hypot(u - 0.2, v * 0.3) * 60) + _smooth(rng, (height, width), 5) * 6)
        rgb = np.array([150, 100, 60.0]) + np.array([40, 30, 20.0]) * rings[..., None]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def resolve(source: str, data_root: Path, cache_dir: Path) -> Path:
    """The file of a gallery source: 'shared:<path under data_root>', 'skimage:<file in skimage's data
    folder>' or 'generated:<kind>' (written to cache_dir as PNG once)."""
    scheme, _, name = source.partition(":")
    if scheme == "shared":
        return Path(data_root) / name
    if scheme == "skimage":
        import skimage

        return Path(skimage.data_dir) / name
    if scheme == "generated":
        path = Path(cache_dir) / f"{name}.png"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(object_free_image(name)).save(path)
        return path
    raise ValueError(f"unknown gallery source {source!r} (shared:, skimage: or generated:)")


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def duplicates(detections, threshold: float):
    """Pairs (i, j) of same-class detections both >= threshold with IoU >= DUPLICATE_IOU."""
    kept = [(k, d) for k, d in enumerate(detections) if d[1] >= threshold]
    return [
        (i, j)
        for n, (i, a) in enumerate(kept)
        for j, b in kept[n + 1 :]
        if a[0] == b[0] and _iou(a[2], b[2]) >= DUPLICATE_IOU
    ]


def score_photo(entry: dict, detections, threshold: float) -> dict:
    above = sorted((d for d in detections if d[1] >= threshold), key=lambda d: -d[1])
    found = {d[0] for d in above}
    missing = [group for group in entry["required"] if not found.intersection(group)]
    allowed = {name for group in entry["required"] for name in group} | set(entry.get("acceptable", []))
    top = above[0] if above else None
    top_ok = top is not None and top[0] in allowed
    return {
        "source": entry["source"],
        "fully_right": not missing and top_ok,
        "missing": [" or ".join(group) for group in missing],
        "top": None if top is None else {"label": top[0], "score": round(float(top[1]), 4)},
        "top_ok": top_ok,
        "wrong_above_threshold": sorted({d[0] for d in above if d[0] not in allowed}),
        "duplicates": len(duplicates(detections, threshold)),
    }


def score_gallery(gallery: dict, detections: dict, threshold: float) -> dict:
    """The gallery report at one threshold; detections maps each source to [(label, score, xyxy)]."""
    photos = [score_photo(e, detections[e["source"]], threshold) for e in gallery["photos"]]
    empty = []
    for entry in gallery["object_free"]:
        above = sorted((d for d in detections[entry["source"]] if d[1] >= threshold), key=lambda d: -d[1])
        empty.append(
            {
                "source": entry["source"],
                "right": not above,
                "above_threshold": [{"label": d[0], "score": round(float(d[1]), 4)} for d in above[:3]],
            }
        )
    right = sum(p["fully_right"] for p in photos)
    return {
        "threshold": threshold,
        "photos": len(photos),
        "fully_right": right,
        "fully_right_rate": round(right / max(1, len(photos)), 4),
        "object_free": len(empty),
        "object_free_silent": sum(e["right"] for e in empty),
        "photos_with_duplicates": sum(p["duplicates"] > 0 for p in photos),
        "per_photo": photos,
        "per_object_free": empty,
    }
