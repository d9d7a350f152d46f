"""Detector v2c's training data additions: object-free textures and the second teacher's fusion."""
import numpy as np
import pytest

from webdetr_tools.detector_v2.second_teacher import fuse_rows
from webdetr_tools.detector_v2.textures import KINDS, ensure, texture


def test_textures_are_seeded_and_varied():
    for kind in KINDS:
        a, b = texture(kind, 7), texture(kind, 7)
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
        assert 256 <= a.shape[0] <= 640 and 256 <= a.shape[1] <= 640
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a[:64, :64], texture(kind, 8)[:64, :64])
    with pytest.raises(ValueError, match="unknown texture kind"):
        texture("wood", 0)


def test_muted_palette_is_less_saturated_and_the_random_one_keeps_its_seeding():
    from PIL import Image

    def saturation(rgb):
        return np.asarray(Image.fromarray(rgb).convert("HSV"), np.float64)[..., 1].mean() / 255

    random = [saturation(texture(kind, s)) for kind in KINDS for s in range(4)]
    muted = [saturation(texture(kind, s, "muted")) for kind in KINDS for s in range(4)]
    assert np.mean(muted) < 0.45 < np.mean(random) and max(muted) < 0.8
    assert not np.array_equal(texture("rings", 3, "muted"), texture("rings", 3))
    assert np.array_equal(texture("flat", 3, "random"), texture("flat", 3))
    with pytest.raises(ValueError, match="unknown palette"):
        texture("rings", 0, "neon")


def test_ensure_writes_once(tmp_path):
    paths = ensure(tmp_path, 7)
    assert [p.name for p in paths][:2] == ["texture_0000_rings.png", "texture_0001_fractal.png"]
    stamp = paths[0].stat().st_mtime_ns
    assert ensure(tmp_path, 7) == paths and paths[0].stat().st_mtime_ns == stamp


def test_fuse_rows_unions_and_merges_per_class():
    centernet = [[0, 0, 10, 10, 0.5, 1], [20, 20, 30, 30, 0.2, 2]]
    ssd = [
        [0, 0, 10, 11, 0.8, 1],  # same object and class, higher: replaces the CenterNet row
        [0, 0, 10, 10, 0.6, 3],  # same box, another class: kept
        [50, 50, 60, 60, 0.2, 4],  # under min_score: dropped
        [70, 70, 80, 80, 0.1, 5],  # under min_score but the weak class: kept
    ]
    fused = fuse_rows(centernet, ssd, min_score=0.3, iou=0.5, weak_class=5)
    assert [(r[4], r[5]) for r in fused] == [(0.8, 1), (0.6, 3), (0.2, 2), (0.1, 5)]
    assert fuse_rows([], [], 0.3, 0.5) == []
    assert [r[5] for r in fuse_rows([], ssd, 0.3, 0.5)] == [1, 3]


class _FakeCache:
    """The three ViewCache calls Targets.teacher makes, over in-memory CenterNet rows."""

    def __init__(self, root, rows, files):
        self.root, self._rows, self._files = root, rows, files

    def teacher_rows(self, name, image_id):
        return self._rows[name][image_id]

    def image(self, name, image_id):
        return {"file": self._files[image_id]}


def test_targets_fuse_replace_and_negative_sets(tmp_path):
    import json

    from webdetr_tools.detector_v2.data import Targets

    centernet = {"raccoon": {"r": [[0, 0, 10, 10, 0.5, 0]]}, "unlabeled": {"u": [[0, 0, 10, 10, 0.9, 0]]}}
    ssd = {"raccoon": {"r": [[20, 20, 40, 40, 0.6, 2]]}, "unlabeled": {"u": [[5, 5, 50, 50, 0.7, 2]]}}
    for name, rows in ssd.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "teacher_ssdlite.json").write_text(json.dumps(rows))
    config = {
        "classes": ["person", "bicycle", "car"],
        "augment": {"min_visible": 0.35},
        "data": {
            "pseudo_label_threshold": 0.25,
            "ground_truth_sets": [],
            "ground_truth_plus_teacher_sets": [],
            "negative_sets": {"textures": {"directory": "unused", "count": 1}},
            "second_teacher": {"min_score": 0.3, "iou": 0.5, "replace_sets": ["unlabeled"]},
        },
    }
    cache = _FakeCache(tmp_path, centernet, {"r": "r.jpg", "u": "n99999999_nothing.JPEG"})
    targets = Targets(config, tmp_path, cache)
    boxes, labels = targets.source_boxes("raccoon", "r")  # fused: both teachers' boxes
    assert labels.tolist() == [2, 0] and boxes.shape == (2, 4)
    boxes, labels = targets.source_boxes("unlabeled", "u")  # replaced: SSDLite's box alone
    assert labels.tolist() == [2] and boxes[0].tolist() == [5, 5, 50, 50]
    boxes, labels = targets.source_boxes("textures", "anything")  # object-free: nothing to find
    assert boxes.shape == (0, 4) and labels.shape == (0,)


def test_soft_pseudo_targets_carry_teacher_confidence_and_vouched_boxes_are_one(tmp_path):
    import json

    from webdetr_tools.detector_v2.data import Targets
    from webdetr_tools.teacher.coco80 import COCO80_NAMES

    cat, dog = COCO80_NAMES.index("cat"), COCO80_NAMES.index("dog")
    ssd = {"unlabeled": {"u": [[0, 0, 40, 40, 0.6, dog], [0, 0, 40, 41, 0.3, cat], [50, 50, 90, 90, 0.4, 0]]}}
    (tmp_path / "unlabeled").mkdir()
    (tmp_path / "unlabeled" / "teacher_ssdlite.json").write_text(json.dumps(ssd["unlabeled"]))
    config = {
        "classes": list(COCO80_NAMES),
        "augment": {"min_visible": 0.35},
        "loss": {"soft_pseudo_targets": True},
        "data": {
            "pseudo_label_threshold": 0.25,
            "ground_truth_sets": [],
            "ground_truth_plus_teacher_sets": [],
            "second_teacher": {"min_score": 0.3, "iou": 0.5, "replace_sets": ["unlabeled"]},
        },
    }
    cache = _FakeCache(tmp_path, {"unlabeled": {"u": []}}, {"u": "n02123045_tabby.JPEG"})
    boxes, labels, targets = Targets(config, tmp_path, cache).source_targets("unlabeled", "u")
    # the file name says cat: the dog on it goes, the cat box is vouched for (1), the person keeps its 0.4
    assert labels.tolist() == [cat, 0] and targets.shape == (2, 80)
    assert targets[[0, 1], labels].tolist() == pytest.approx([1.0, 0.4]) and targets.sum() == pytest.approx(1.4)
    _, labels, targets = Targets({**config, "loss": {}}, tmp_path, cache).source_targets("unlabeled", "u")
    trust = targets[np.arange(len(labels)), labels]
    assert dict(zip(labels.tolist(), trust.tolist())) == pytest.approx({cat: 0.3, 0: 0.4})  # hard: kept at 0.3


def test_a_labelled_set_trains_on_its_human_boxes(tmp_path, monkeypatch):
    """data.labelled_sets: coco_extra's photos (data/coco_extra.py) are all train rows with their Samples, and as a
    ground-truth set their targets are those boxes at 1."""
    import json

    from webdetr_tools.detector_v2 import data as v2data
    from webdetr_tools.detector_v2.data import Targets, set_rows

    folder = tmp_path / "coco_extra"
    (folder / "images").mkdir(parents=True)
    images = [{"id": 9, "file_name": "000000000009.jpg", "width": 64, "height": 48}]
    annotations = [{"id": 1, "image_id": 9, "category_id": 3, "bbox": [1, 2, 10, 20], "iscrowd": 0}]
    categories = [{"id": 3, "name": "car"}]
    (folder / "instances.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    monkeypatch.setattr(v2data, "REPO", tmp_path)
    config = {
        "seed": 0,
        "classes": ["person", "bicycle", "car"],
        "augment": {"min_visible": 0.35},
        "loss": {"soft_pseudo_targets": True},
        "data": {
            "pseudo_label_threshold": 0.25,
            "ground_truth_sets": ["coco_extra"],
            "ground_truth_plus_teacher_sets": [],
            "labelled_sets": {"coco_extra": {"directory": "coco_extra", "source": "test"}},
        },
    }
    rows = set_rows(tmp_path, "coco_extra", config)
    assert [(r[0], r[3]) for r in rows] == [("000000000009", "train")] and rows[0][2].labels == ["car"]
    boxes, labels, targets = Targets(config, tmp_path, _FakeCache(tmp_path, {}, {})).source_targets(
        "coco_extra", "000000000009"
    )
    assert boxes.tolist() == [[1, 2, 11, 22]] and labels.tolist() == [2] and targets.tolist() == [[0, 0, 1]]
    with pytest.raises(ValueError, match="only coco_extra"):
        set_rows(tmp_path, "other", {**config, "data": {**config["data"], "labelled_sets": {"other": {}}}})
