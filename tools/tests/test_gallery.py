"""The "first photos" gallery: its labels are COCO classes, its photos are reserved from training, and the
scorer (webdetr_tools/evaluation/gallery.py) judges photos, object-free pictures and duplicates as its
protocol says."""

import json
from pathlib import Path

import numpy as np
import pytest

from webdetr_tools.evaluation.gallery import (
    GENERATED_KINDS,
    duplicates,
    load_gallery,
    object_free_image,
    resolve,
    score_gallery,
)
from webdetr_tools.teacher.coco80 import COCO80_NAMES

TOOLS = Path(__file__).resolve().parents[1]
GALLERY = load_gallery(TOOLS / "gallery" / "first_photos.json")
DATA = TOOLS.parent.parent / "shared" / "data"


def test_labels_are_coco_classes_and_the_gallery_is_big_enough():
    assert len(GALLERY["photos"]) >= 30 and len(GALLERY["object_free"]) >= 10
    for entry in GALLERY["photos"]:
        assert entry["required"], entry["source"]
        for name in [n for group in entry["required"] for n in group] + entry["acceptable"]:
            assert name in COCO80_NAMES, (entry["source"], name)
    sources = [e["source"] for e in GALLERY["photos"] + GALLERY["object_free"]]
    assert len(set(sources)) == len(sources)


def test_shared_photos_are_the_reserved_split_and_in_no_training_split():
    splits = json.loads((TOOLS / "results" / "detector_v2_splits.json").read_text())
    reserved = set(splits["unlabeled_extra"]["gallery"])
    for entry in GALLERY["photos"]:
        scheme, _, name = entry["source"].partition(":")
        if scheme == "shared":
            folder, _, file = name.partition("/")
            assert folder == "unlabeled_extra" and file in reserved, entry["source"]


@pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the checkout")
def test_every_picture_resolves(tmp_path):
    for entry in GALLERY["photos"] + GALLERY["object_free"]:
        assert resolve(entry["source"], DATA, tmp_path).exists(), entry["source"]


def test_generated_pictures_are_deterministic_and_plain():
    for kind in GENERATED_KINDS:
        a, b = object_free_image(kind), object_free_image(kind)
        assert a.shape == (360, 480, 3) and a.dtype == np.uint8 and np.array_equal(a, b), kind
    with pytest.raises(ValueError, match="unknown generated picture"):
        object_free_image("cat")


def test_scoring_protocol():
    gallery = {
        "photos": [
            {"source": "a", "required": [["dog"]], "acceptable": ["chair"]},
            {"source": "b", "required": [["car", "truck"], ["person"]], "acceptable": []},
            {"source": "c", "required": [["cat"]], "acceptable": []},
            {"source": "d", "required": [["cup"]], "acceptable": []},
        ],
        "object_free": [{"source": "e"}, {"source": "f"}],
    }
    box = (0, 0, 10, 10)
    detections = {
        # right: the dog found; the top one an acceptable chair; a weak wrong label below the threshold
        "a": [("chair", 0.9, box), ("dog", 0.5, (20, 20, 40, 40)), ("person", 0.2, box)],
        # right: a truck stands for "car or truck"
        "b": [("truck", 0.8, box), ("person", 0.6, (30, 0, 40, 10))],
        # wrong: the top detection is no class of the photo (the cat is found, but 'person' leads)
        "c": [("person", 0.47, box), ("cat", 0.33, box)],
        # wrong: nothing reaches the threshold
        "d": [("cup", 0.1, box)],
        "e": [("dining table", 0.29, box)],
        "f": [("person", 0.31, box)],
    }
    report = score_gallery(gallery, detections, 0.3)
    assert [p["fully_right"] for p in report["per_photo"]] == [True, True, False, False]
    assert report["per_photo"][2]["top"] == {"label": "person", "score": 0.47}
    assert report["per_photo"][3]["missing"] == ["cup"]
    assert [e["right"] for e in report["per_object_free"]] == [True, False]
    assert (report["fully_right"], report["object_free_silent"]) == (2, 1)


def test_duplicates_are_same_class_overlaps_above_the_threshold():
    dets = [
        ("dog", 0.9, (0, 0, 10, 10)),
        ("dog", 0.8, (0, 0, 10, 11)),
        ("cat", 0.8, (0, 0, 10, 10)),
        ("dog", 0.2, (0, 0, 10, 10)),
    ]
    assert duplicates(dets, 0.3) == [(0, 1)]
    assert duplicates(dets, 0.85) == []


def test_other_class_detections_count_wrong_labels_at_the_threshold_on_photos_only():
    from experiments.gallery_pytorch import other_class_detections

    gallery = {
        "photos": [
            {"source": "a", "required": [["bird"]], "acceptable": ["bench"]},
            {"source": "b", "required": [["cup"]]},
        ],
        "object_free": [{"source": "c"}],
    }
    detections = {
        "a": [("bird", 0.9, []), ("dog", 0.5, []), ("bench", 0.4, []), ("cat", 0.1, [])],
        "b": [("cup", 0.3, []), ("bowl", 0.3, [])],
        "c": [("person", 0.9, [])],  # object-free pictures are scored apart ("silent")
    }
    assert other_class_detections(gallery, detections, 0.25) == 2
    assert other_class_detections(gallery, detections, 0.05) == 3
