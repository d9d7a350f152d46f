"""Dataset readers for ../shared/data: bccd, raccoon (VOC XML), coco128 (COCO JSON), pennfudan
(PASCAL v1 text), unlabeled (images only).

Every reader returns a list of `Sample`s with boxes as continuous (x0, y0, x1, y1) image coordinates
(pixel (0, 0) covers [0, 1) x [0, 1)); VOC-style 1-based inclusive pixel indices are converted with
x0 = xmin - 1, x1 = xmax. Images are not decoded here; `read_rgb` decodes one and returns None with
a warning for a damaged file, so training and evaluation skip it instead of crashing.
"""
from __future__ import annotations

import json
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Sample:
    image: Path
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # [K, 4] xyxy
    labels: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if len(self.labels) != len(self.boxes):
            raise ValueError(f"{self.image}: {len(self.boxes)} boxes but {len(self.labels)} labels")


def read_rgb(path: Path) -> np.ndarray | None:
    """Decodes an image to HxWx3 uint8; a damaged or unreadable file gives a warning and None."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        warnings.warn(f"skipping undecodable image {path}: {error}")
        return None


def _voc_sample(xml_path: Path, images_dir: Path) -> Sample:
    root = ET.parse(xml_path).getroot()
    filename = root.findtext("filename") or f"{xml_path.stem}.jpg"
    size = root.find("size")
    width = int(float(size.findtext("width"))) if size is not None else 0
    height = int(float(size.findtext("height"))) if size is not None else 0
    boxes, labels = [], []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        if bb is None:
            continue
        xmin, ymin, xmax, ymax = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        if xmax <= xmin - 1 or ymax <= ymin - 1:
            continue  # degenerate annotation
        boxes.append([xmin - 1, ymin - 1, xmax, ymax])
        labels.append((obj.findtext("name") or "").strip())
    return Sample(images_dir / filename, width, height, np.array(boxes, np.float32), labels)


def load_bccd(root: Path, split: str = "trainval") -> list[Sample]:
    """BCCD with its own split (ImageSets/Main/{train,val,trainval,test}.txt)."""
    root = Path(root)
    ids = (root / "ImageSets/Main" / f"{split}.txt").read_text().split()
    return [_voc_sample(root / "Annotations" / f"{i}.xml", root / "JPEGImages") for i in ids]


def load_raccoon(root: Path) -> list[Sample]:
    root = Path(root)
    return [_voc_sample(p, root / "images") for p in sorted((root / "annotations").glob("*.xml"))]


def load_coco128(root: Path) -> list[Sample]:
    root = Path(root)
    data = json.loads((root / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    per_image: dict[int, list] = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        x, y, w, h = ann["bbox"]
        if w > 0 and h > 0:
            per_image[ann["image_id"]].append(([x, y, x + w, y + h], names[ann["category_id"]]))
    samples = []
    for img in sorted(data["images"], key=lambda i: i["file_name"]):
        anns = per_image[img["id"]]
        samples.append(
            Sample(
                root / "images" / img["file_name"],
                img["width"],
                img["height"],
                np.array([a[0] for a in anns], np.float32),
                [a[1] for a in anns],
            )
        )
    return samples


_PENNFUDAN_SIZE = re.compile(r"Image size \(X x Y x C\) : (\d+) x (\d+)")
_PENNFUDAN_BOX = re.compile(r"\(Xmin, Ymin\) - \(Xmax, Ymax\) : \((\d+), (\d+)\) - \((\d+), (\d+)\)")


def load_pennfudan(root: Path) -> list[Sample]:
    root = Path(root)
    samples = []
    for txt in sorted((root / "Annotation").glob("*.txt")):
        text = txt.read_text(errors="replace")
        size = _PENNFUDAN_SIZE.search(text)
        width, height = (int(size.group(1)), int(size.group(2))) if size else (0, 0)
        boxes = [[int(a) - 1, int(b) - 1, int(c), int(d)] for a, b, c, d in _PENNFUDAN_BOX.findall(text)]
        samples.append(
            Sample(
                root / "PNGImages" / f"{txt.stem}.png",
                width,
                height,
                np.array(boxes, np.float32),
                ["person"] * len(boxes),
            )
        )
    return samples


def load_unlabeled(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def seeded_split(samples: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """Deterministic train/val split (the sets without an official split); order-independent of input order."""
    ordered = sorted(samples, key=lambda s: str(s.image if isinstance(s, Sample) else s))
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(ordered))
    n_val = int(round(len(ordered) * val_fraction))
    val = [ordered[i] for i in sorted(order[:n_val])]
    train = [ordered[i] for i in sorted(order[n_val:])]
    return train, val


LOADERS = {
    "bccd": lambda root: load_bccd(root, "trainval") + load_bccd(root, "test"),
    "raccoon": load_raccoon,
    "coco128": load_coco128,
    "pennfudan": load_pennfudan,
}
