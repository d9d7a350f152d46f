"""Extra COCO photos with the official COCO box annotations, for training the default detector beside coco128.

coco128 gives the detector ~100 ground-truth photos; these are 415 more COCO 2017 photos (train2017 and
val2017, none of them in coco128) with every instance annotation of each photo as COCO published it. No single
public repository that the `fetch` tool can bring holds a few hundred COCO photos with their annotations (the
larger ones are over its 500 MiB limit or keep the labels without the photos), so three small COCO subsets are
joined; each keeps the original image ids, annotation ids and boxes, and where they share a photo their
annotations are identical:

  github:Obmutescence/COCO-MINI @ 644f29e7  one photo per class per split: 80 train2017 + 79 val2017 (the
      val2017 folder has 80 more photos that its JSON does not list; they are left out)
  github:zzowenzz/COCO_Tiny @ e7a689f7  one photo per class per split: 80 train2017 + 80 val2017
  github:lizhogn/tiny_coco_dataset @ 68523ddd  the first 50 photos of each split's JSON

Terms: the annotations are COCO's (CC BY 4.0, cocodataset.org/#termsofuse); each photo keeps the Flickr license
its COCO entry names (the `licenses` list and each image's `license`, `flickr_url` and `coco_url` are kept in the
written JSON for attribution). Of the repositories only lizhogn/tiny_coco_dataset has a license file (MIT); the
other two have none and claim nothing beyond COCO's own terms. Nothing of it ships: training reads it from a
git-ignored folder that `materialise` fills from local git mirrors of the three repositories (the `fetch` tool's
copies), at the pinned commits.

The written folder has coco128's layout (images/<COCO file name> + instances.json with only the kept photos,
boxes as COCO xywh in source pixels, segmentation left out); `load_coco_extra` reads it into `Sample`s with
COCO-80 names and xyxy source-pixel boxes, crowd boxes dropped, as load_coco128 does. Photos whose COCO id is
in coco128, or whose bytes equal a photo of the detector gallery (tools/gallery/first_photos.json), are left out.

  cd tools && /usr/bin/python3 -m webdetr_tools.data.coco_extra \\
      --mirror /work/.mirror/Obmutescence+COCO-MINI/repo --mirror /work/.mirror/zzowenzz+COCO_Tiny/repo \\
      --mirror /work/.mirror/lizhogn+tiny_coco_dataset/repo
"""
from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..teacher.coco80 import COCO80_NAMES
from .datasets import Sample, load_coco128
from .mirror import git_show, has_commit


@dataclass(frozen=True)
class Source:
    source: str
    commit: str
    splits: tuple[tuple[str, str], ...]  # (instances JSON, folder of its photos) inside the repository


SOURCES = (
    Source(
        "github:Obmutescence/COCO-MINI",
        "644f29e7c1d2eefd9c4412d39bc5b0ee6fd0afd4",
        (("annotations/instances_train2017.json", "train2017"), ("annotations/instances_val2017.json", "val2017")),
    ),
    Source(
        "github:zzowenzz/COCO_Tiny",
        "e7a689f7d6d1a1908df287c3e79eccdadfdba1fe",
        (("annotations/instances_train2017.json", "train2017"), ("annotations/instances_val2017.json", "val2017")),
    ),
    Source(
        "github:lizhogn/tiny_coco_dataset",
        "68523ddd6c27f9ba5d2f0caf7f6fe95cc2c99311",
        (
            ("tiny_coco/annotations/instances_train2017.json", "tiny_coco/train2017"),
            ("tiny_coco/annotations/instances_val2017.json", "tiny_coco/val2017"),
        ),
    ),
)
DIRECTORY = ".cache/fetched/coco_extra"
ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox", "area", "iscrowd")


def find_mirrors(mirrors: list[Path]) -> dict[str, Path]:
    """The mirror of each source: the first given git directory that holds its pinned commit."""
    found = {}
    for source in SOURCES:
        match = next((Path(m) for m in mirrors if has_commit(Path(m), source.commit)), None)
        if match is None:
            raise SystemExit(f"no mirror holds {source.source} @ {source.commit} (fetch it and pass --mirror)")
        found[source.source] = match
    return found


def coco128_ids(instances: Path) -> set[int]:
    """COCO image ids of coco128 (its instances.json), so no photo is both there and here; none if it is absent."""
    if not Path(instances).is_file():
        return set()
    return {img["id"] for img in json.loads(Path(instances).read_text())["images"]}


def gallery_digests(gallery_json: Path, data_root: Path) -> set[str]:
    """sha256 of every gallery photo file that can be found ('shared:' and 'skimage:' sources), so no gallery
    photo is trained on even if a repository copied one in."""
    from ..evaluation.gallery import load_gallery, resolve

    gallery = load_gallery(gallery_json)
    digests = set()
    for entry in gallery.get("photos", []) + gallery.get("object_free", []):
        if entry["source"].startswith("generated:"):
            continue
        try:
            path = resolve(entry["source"], data_root, cache_dir=Path("/nonexistent"))
        except ImportError:  # skimage not installed: its pictures are not COCO photos anyway
            continue
        if path.is_file():
            digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    return digests


def materialise(
    mirrors: list[Path], out: Path, exclude_ids: Collection[int] = (), exclude_digests: Collection[str] = ()
) -> dict:
    """Writes out/images/<file name> and out/instances.json (the kept photos and all their annotations, in the
    order of SOURCES; a photo met again in a later source is skipped). Returns counts."""
    by_source = find_mirrors(mirrors)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations, kept = [], [], set()
    categories = licenses = None
    skipped = {"coco128": 0, "gallery": 0, "repeated": 0}
    for source in SOURCES:
        mirror = by_source[source.source]
        for json_path, folder in source.splits:
            data = json.loads(git_show(mirror, source.commit, json_path))
            if categories is None:
                categories, licenses = data["categories"], data.get("licenses", [])
            elif data["categories"] != categories:
                raise SystemExit(f"{source.source}:{json_path}: categories differ from COCO's")
            per_image: dict[int, list] = {}
            for ann in data["annotations"]:
                per_image.setdefault(ann["image_id"], []).append({k: ann[k] for k in ANNOTATION_KEYS if k in ann})
            for img in sorted(data["images"], key=lambda i: i["id"]):
                if img["id"] in kept:
                    skipped["repeated"] += 1
                    continue
                if img["id"] in exclude_ids:
                    skipped["coco128"] += 1
                    continue
                blob = git_show(mirror, source.commit, f"{folder}/{img['file_name']}")
                if hashlib.sha256(blob).hexdigest() in exclude_digests:
                    skipped["gallery"] += 1
                    continue
                target = out / "images" / img["file_name"]
                if not target.is_file():
                    target.write_bytes(blob)
                kept.add(img["id"])
                images.append({**img, "source": f"{source.source}@{source.commit}"})
                annotations.extend(per_image.get(img["id"], []))
    info = {
        "description": "COCO 2017 photos with their official instance boxes (segmentation left out)",
        "sources": [f"{s.source}@{s.commit}" for s in SOURCES],
        "annotations_license": "CC BY 4.0 (COCO Consortium); photo licenses per image, see licenses",
    }
    instances = {"info": info, "licenses": licenses, "images": images, "annotations": annotations}
    instances["categories"] = categories
    (out / "instances.json").write_text(json.dumps(instances))
    return {"images": len(images), "annotations": len(annotations), "skipped": skipped}


def load_coco_extra(root: Path) -> list[Sample]:
    """The materialised photos as Samples: COCO-80 names, xyxy boxes in source pixels, crowd boxes dropped."""
    samples = load_coco128(root)
    unknown = {label for s in samples for label in s.labels} - set(COCO80_NAMES)
    if unknown:
        raise ValueError(f"{root}: labels outside COCO-80: {sorted(unknown)}")
    return samples


def main(argv=None):
    from ..detector_v2.config import REPO

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, action="append", required=True, help="git directory of a mirror")
    parser.add_argument("--out", type=Path, default=REPO / DIRECTORY)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="../shared/data")
    parser.add_argument("--gallery", type=Path, default=REPO / "tools" / "gallery" / "first_photos.json")
    args = parser.parse_args(argv)
    counts = materialise(
        args.mirror,
        args.out,
        exclude_ids=coco128_ids(args.data / "coco128" / "instances.json"),
        exclude_digests=gallery_digests(args.gallery, args.data),
    )
    print(f"{counts['images']} photos, {counts['annotations']} annotations in {args.out}; skipped {counts['skipped']}")


if __name__ == "__main__":
    main()
