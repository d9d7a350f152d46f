"""The "look-alikes" evaluation set of issue 26: multi-instance photos of classes the one-shot model never
trained on (coins, eggs, tomatoes, bolts), for same-image one-shot AP50.

The committed manifest (tools/gallery/lookalikes.json) records each photo's source repository, commit, path,
git blob id, license and boxes (source-pixel xyxy, continuous coordinates as in datasets.Sample). No image is
committed: `materialise` copies them out of the `fetch` mirrors (github:<owner>/<name>, unpacked under
/work/.mirror/<owner>+<name>/repo) into .cache/lookalikes/, and `load_lookalikes` reads them from there. The
labels are for evaluation only: nothing under webdetr_tools.training reads this module.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from .datasets import Sample

TOOLS = Path(__file__).resolve().parents[2]
MANIFEST = TOOLS / "gallery" / "lookalikes.json"
CACHE = TOOLS.parent / ".cache" / "lookalikes"
MIRRORS = Path("/work/.mirror")


def load_manifest(path: Path = MANIFEST) -> dict:
    return json.loads(Path(path).read_text())


def mirror_dir(repo: str, mirrors: Path = MIRRORS) -> Path:
    """Where `fetch github:<owner>/<name>` leaves its bare git directory."""
    return Path(mirrors) / repo.replace("/", "+") / "repo"


def cached_image(photo: dict, cache: Path = CACHE) -> Path:
    """The photo's materialised file: <cache>/<source>/<blob id>.<ext> (blob ids keep names short and unique)."""
    return Path(cache) / photo["source"] / f"{photo['blob']}{Path(photo['path']).suffix.lower()}"


def missing_mirrors(manifest: dict, mirrors: Path = MIRRORS) -> list[str]:
    """The fetch sources (github:<owner>/<name>) whose mirror is absent or lacks the recorded commit."""
    missing = []
    for source in manifest["sources"].values():
        git_dir = mirror_dir(source["repo"], mirrors)
        ok = git_dir.is_dir() and (
            subprocess.run(
                ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{source['commit']}^{{commit}}"],
                capture_output=True,
            ).returncode
            == 0
        )
        if not ok:
            missing.append(source["fetch"])
    return missing


def materialise(manifest: dict, mirrors: Path = MIRRORS, cache: Path = CACHE, log=print) -> list[Path]:
    """Copies every photo's blob out of its mirror into the cache (skips files already there with the right
    size); raises FileNotFoundError naming the fetch sources to bring in when a mirror is absent."""
    missing = missing_mirrors(manifest, mirrors)
    if missing:
        raise FileNotFoundError(
            f"look-alikes: no mirror under {mirrors} for {', '.join(missing)}; bring each in with the fetch tool "
            f"(e.g. fetch {missing[0]}) and run this again"
        )
    written = []
    for photo in manifest["photos"]:
        source = manifest["sources"][photo["source"]]
        git_dir = mirror_dir(source["repo"], mirrors)
        target = cached_image(photo, cache)
        blob = subprocess.run(
            ["git", "--git-dir", str(git_dir), "rev-parse", f"{source['commit']}:{photo['path']}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if blob != photo["blob"]:
            raise ValueError(
                f"look-alikes: {source['repo']}@{source['commit'][:12]}:{photo['path']} is {blob!r}, "
                f"the manifest says {photo['blob']}"
            )
        data = subprocess.run(
            ["git", "--git-dir", str(git_dir), "cat-file", "blob", blob], capture_output=True, check=True
        ).stdout
        if not (target.is_file() and target.stat().st_size == len(data)):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        written.append(target)
    log(f"look-alikes: {len(written)} photos in {cache}")
    return written


def load_lookalikes(manifest_path: Path = MANIFEST, cache: Path = CACHE) -> list[Sample]:
    """One Sample per photo (image in the cache, boxes in source pixels, the class name as every label), in
    manifest order. Raises FileNotFoundError when the photos are not materialised."""
    manifest = load_manifest(manifest_path)
    samples = []
    for photo in manifest["photos"]:
        image = cached_image(photo, cache)
        if not image.is_file():
            raise FileNotFoundError(f"look-alikes photo {image} is absent: run tools/materialise_lookalikes.py first")
        boxes = np.array(photo["boxes"], np.float32)
        samples.append(Sample(image, photo["width"], photo["height"], boxes, [photo["label"]] * len(boxes)))
    return samples
