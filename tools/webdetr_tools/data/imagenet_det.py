"""ImageNet DET sample photos (github.com/ajschumacher/imagen): five photos for each of ILSVRC DET's 200 classes,
named `<WordNet id>_<image>_<class>.jpg`. Detector training uses the ones whose class falls under a COCO-80 class
(detector_v2.weak.DET_NAMES) as weakly labelled photos, like unlabeled/: the file name says which class is in it.

Source and terms: the repository has no license file; its README says the photos are sampled from ImageNet and
makes no copyright claim, so ImageNet's terms (research use) apply. Nothing of it ships; training reads it from a
git-ignored folder that `materialise` fills from a local git mirror of the repository (the `fetch` tool's copy).

  cd tools && /usr/bin/python3 -m webdetr_tools.data.imagenet_det --mirror /work/.mirror/ajschumacher+imagen/repo
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..detector_v2.weak import DET_NAME, weak_class
from .mirror import git_show, list_files, require_commit

SOURCE = "github:ajschumacher/imagen"
COMMIT = "2e8718956e3bb046db9a8e488c2254fd9846b6c5"
DIRECTORY = ".cache/fetched/imagenet_det"


def coco_files(mirror: Path) -> list[str]:
    """Paths in the mirror's pinned commit of the DET photos whose class maps to COCO-80."""
    names = [p for p in list_files(mirror, COMMIT) if p.startswith("imagen/") and p.endswith(".jpg")]
    return [p for p in names if DET_NAME.match(Path(p).stem) and weak_class(Path(p).name) is not None]


def materialise(mirror: Path, out: Path) -> int:
    require_commit(mirror, COMMIT, SOURCE)
    out.mkdir(parents=True, exist_ok=True)
    files = coco_files(mirror)
    for path in files:
        target = out / Path(path).name
        if not target.is_file():
            target.write_bytes(git_show(mirror, COMMIT, path))
    return len(files)


def main(argv=None):
    from ..detector_v2.config import REPO

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, required=True, help=f"git directory of a {SOURCE} mirror")
    parser.add_argument("--out", type=Path, default=REPO / DIRECTORY)
    args = parser.parse_args(argv)
    print(f"{materialise(args.mirror, args.out)} photos in {args.out}")


if __name__ == "__main__":
    main()
