"""The look-alikes set (issue 26): enough multi-instance photos, classes outside COCO-80, every source with its
repository, commit, license and fetch source, and boxes that fit their photos. The image checks skip when
tools/materialise_lookalikes.py has not been run (the photos live in .cache/, never in the repository)."""

import re

import numpy as np
import pytest

from webdetr_tools.data.lookalikes import CACHE, cached_image, load_lookalikes, load_manifest
from webdetr_tools.teacher.coco80 import COCO80_NAMES

MANIFEST = load_manifest()


def test_enough_multi_instance_photos_of_classes_outside_coco():
    photos = MANIFEST["photos"]
    assert len(photos) >= 40
    assert len({p["label"] for p in photos}) >= 3
    for photo in photos:
        assert len(photo["boxes"]) >= 2, photo["path"]
        assert photo["label"] not in COCO80_NAMES, photo["label"]
    keys = [(p["source"], p["path"]) for p in photos]
    assert len(set(keys)) == len(keys)
    assert len({p["blob"] for p in photos}) == len(photos)


def test_every_source_records_repository_commit_license_and_fetch():
    sources = MANIFEST["sources"]
    for photo in MANIFEST["photos"]:
        assert photo["source"] in sources, photo["path"]
        assert re.fullmatch(r"[0-9a-f]{40}", photo["blob"]), photo["path"]
    for name, source in sources.items():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), name
        assert source["fetch"] == f"github:{source['repo']}", name
        assert source["license"].strip(), name


def test_boxes_are_ordered_and_inside_the_recorded_size():
    for photo in MANIFEST["photos"]:
        boxes = np.array(photo["boxes"], np.float64)
        assert boxes.shape[1] == 4
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all(), photo["path"]
        assert (boxes[:, :2] >= 0).all(), photo["path"]
        assert (boxes[:, 2] <= photo["width"]).all() and (boxes[:, 3] <= photo["height"]).all(), photo["path"]


@pytest.mark.skipif(
    not all(cached_image(p).is_file() for p in MANIFEST["photos"]),
    reason=f"look-alikes photos not materialised in {CACHE} (tools/materialise_lookalikes.py)",
)
def test_materialised_photos_match_the_manifest():
    from PIL import Image

    samples = load_lookalikes()
    assert len(samples) == len(MANIFEST["photos"])
    for sample in samples:
        with Image.open(sample.image) as image:
            assert image.size == (sample.width, sample.height), sample.image
        assert len(sample.labels) == len(sample.boxes) >= 2
