"""Object-free training pictures for detector v2c: seeded procedural textures with no object in them, trained
on with no targets, so that a whole-picture pattern (rings, gradients, noise) stops reading as a "person".

Why: the shipped v2b put "person 0.55" on a generated wood-grain picture of the gallery. Nothing in its
training was object-free (every ImageNet photo holds an object), so nothing taught it to stay silent.

These generators are written apart from the gallery's (evaluation/gallery.py object_free_image) and never seed
from it; the families overlap on purpose (rings, gradients, noise, stripes are what object-free pictures are),
which the model card states. Sizes and aspect ratios vary like photos do.

Palettes: "random" (often near one hue, sometimes free colours) or "muted" (one hue at low saturation: the
colours of wood, skin, sand, stone, sky; detector v3c, after v3 still called a generated wood grain "person").

Kinds: rings (tree rings / agate: distance to a random centre, warped by fractal noise), fractal (multi-octave
value noise in a random palette), gradient (2-4 colour stops, linear or radial, random angle), waves (a sum of
random sinusoid gratings), cells (Voronoi tiles / stones), flat (one colour, vignette and sensor noise).

API
  KINDS; texture(kind, seed) -> uint8 [H, W, 3]
  ensure(directory, count, seed=0) -> sorted list of PNG paths (written once; kinds in turn)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

KINDS = ("rings", "fractal", "gradient", "waves", "cells", "flat")
PALETTES = ("random", "muted")


def _muted(rng: np.random.RandomState, stops: int) -> np.ndarray:
    """stops colours of natural materials (wood, skin, sand, stone, foliage, sky): one hue, low saturation."""
    hue = rng.rand()
    saturation = np.clip(rng.uniform(0.05, 0.6) + rng.randn(stops) * 0.08, 0, 1)
    value = np.clip(rng.uniform(0.25, 0.9) + rng.randn(stops) * 0.2, 0.05, 1)
    hsv = np.stack([np.full(stops, hue), saturation, value], -1)
    return np.asarray(Image.fromarray((hsv[None] * 255).astype(np.uint8), "HSV").convert("RGB"), np.float64)[0]


def _palette(rng: np.random.RandomState, stops: int, muted: bool = False) -> np.ndarray:
    """stops random colours, often near one hue (natural materials), sometimes free; muted: _muted's."""
    if muted:
        return _muted(rng, stops)
    if rng.rand() < 0.6:
        base = rng.rand(3) * 255
        return np.clip(base + rng.randn(stops, 3) * rng.uniform(15, 60), 0, 255)
    return rng.rand(stops, 3) * 255


def _ramp(palette: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Map t in [0, 1] through the palette's colour stops (piecewise linear)."""
    t = np.clip(t, 0, 1) * (len(palette) - 1)
    k = np.minimum(t.astype(np.int64), len(palette) - 2)
    f = (t - k)[..., None]
    return palette[k] * (1 - f) + palette[k + 1] * f


def _noise(rng: np.random.RandomState, height: int, width: int, octaves: int, cells: int) -> np.ndarray:
    """Fractal value noise in [0, 1]: octaves of bicubically enlarged random grids, halving amplitude."""
    out, amplitude, total = np.zeros((height, width)), 1.0, 0.0
    for o in range(octaves):
        n = cells * 2**o
        coarse = Image.fromarray((rng.rand(n, n) * 255).astype(np.uint8))
        out += amplitude * np.asarray(coarse.resize((width, height), Image.BICUBIC), np.float64) / 255
        total += amplitude
        amplitude /= 2
    out /= total
    return (out - out.min()) / max(out.max() - out.min(), 1e-9)


def texture(kind: str, seed: int, palette: str = "random") -> np.ndarray:
    if kind not in KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; known: {', '.join(KINDS)}")
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; known: {', '.join(PALETTES)}")
    # the random palette keeps its original seeding, so the textures earlier runs trained on rebuild the same
    rng = np.random.RandomState([KINDS.index(kind), seed] + ([PALETTES.index(palette)] if palette != "random" else []))
    muted = palette == "muted"
    height, width = (int(v) for v in rng.randint(256, 641, size=2))
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    if kind == "rings":
        cx, cy = rng.uniform(-0.5, 1.5, 2)
        warp = _noise(rng, height, width, 3, int(rng.randint(2, 6))) * rng.uniform(0.05, 0.4)
        d = np.hypot((u - cx) * rng.uniform(0.5, 2), v - cy) + warp
        t = 0.5 + 0.5 * np.sin(d * rng.uniform(20, 120))
        rgb = _ramp(_palette(rng, 3, muted), t ** rng.uniform(0.5, 3))
    elif kind == "fractal":
        rgb = _ramp(_palette(rng, int(rng.randint(2, 5)), muted), _noise(rng, height, width, int(rng.randint(1, 6)), 3))
    elif kind == "gradient":
        if rng.rand() < 0.5:
            angle = rng.uniform(0, np.pi)
            t = u * np.cos(angle) + v * np.sin(angle)
        else:
            cx, cy = rng.uniform(0, 1, 2)
            t = np.hypot(u - cx, v - cy)
        rgb = _ramp(_palette(rng, int(rng.randint(2, 5)), muted), (t - t.min()) / max(t.max() - t.min(), 1e-9))
    elif kind == "waves":
        t = np.zeros_like(u)
        for _ in range(int(rng.randint(1, 5))):
            angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(3, 60), rng.uniform(0, 2 * np.pi)
            t += np.sin((u * np.cos(angle) + v * np.sin(angle)) * freq + phase)
        rgb = _ramp(_palette(rng, 3, muted), (t - t.min()) / max(t.max() - t.min(), 1e-9))
    elif kind == "cells":
        count = int(rng.randint(8, 60))
        centres = rng.rand(count, 2)
        d = (u[..., None] - centres[:, 0]) ** 2 + (v[..., None] - centres[:, 1]) ** 2
        nearest = np.sort(d, axis=-1)
        owner = np.argmin(d, axis=-1)
        colours = _palette(rng, count, muted)
        edge = np.clip((np.sqrt(nearest[..., 1]) - np.sqrt(nearest[..., 0])) * rng.uniform(20, 80), 0, 1)
        rgb = colours[owner] * (0.5 + 0.5 * edge[..., None])
    else:  # flat
        rgb = np.broadcast_to(_palette(rng, 1, muted)[0], (height, width, 3)).astype(np.float64)
        vignette = 1 - rng.uniform(0, 0.5) * (np.hypot(u - 0.5, v - 0.5) / 0.71) ** 2
        rgb = rgb * vignette[..., None]
    rgb = rgb + rng.randn(height, width, 3) * rng.uniform(0, 6)  # sensor noise
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def ensure(directory: Path, count: int, seed: int = 0, palette: str = "random") -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        kind = KINDS[k % len(KINDS)]
        path = directory / f"texture_{k:04d}_{kind}.png"
        if not path.is_file():
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(texture(kind, seed * 100_003 + k, palette)).save(tmp)
            tmp.rename(path)
        paths.append(path)
    return paths
