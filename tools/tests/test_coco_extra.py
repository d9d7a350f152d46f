"""load_coco_extra on a tiny COCO JSON (xywh -> xyxy, category names, crowd boxes dropped), and on the
materialised photos when .cache/fetched/coco_extra exists."""
import json

import numpy as np
import pytest

from webdetr_tools.data.coco_extra import DIRECTORY, load_coco_extra
from webdetr_tools.teacher.coco80 import COCO80_NAMES


def _write(root, categories, annotations):
    (root / "images").mkdir()
    images = [
        {"id": 7, "file_name": "000000000007.jpg", "width": 640, "height": 480},
        {"id": 3, "file_name": "000000000003.jpg", "width": 320, "height": 240},
    ]
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / "instances.json").write_text(json.dumps(data))


def test_boxes_become_xyxy_with_coco_names(tmp_path):
    categories = [{"id": 18, "name": "dog"}, {"id": 80, "name": "toaster"}]
    annotations = [
        {"id": 1, "image_id": 7, "category_id": 18, "bbox": [10.5, 20.0, 100.0, 50.25], "iscrowd": 0},
        {"id": 2, "image_id": 7, "category_id": 80, "bbox": [0, 0, 30, 40], "iscrowd": 0},
        {"id": 3, "image_id": 7, "category_id": 18, "bbox": [5, 5, 200, 200], "iscrowd": 1},
    ]
    _write(tmp_path, categories, annotations)
    samples = load_coco_extra(tmp_path)
    assert [s.image.name for s in samples] == ["000000000003.jpg", "000000000007.jpg"]
    empty, photo = samples
    assert empty.boxes.shape == (0, 4) and empty.labels == [] and (empty.width, empty.height) == (320, 240)
    assert photo.labels == ["dog", "toaster"]
    np.testing.assert_allclose(photo.boxes, [[10.5, 20.0, 110.5, 70.25], [0, 0, 30, 40]])
    assert photo.image == tmp_path / "images" / "000000000007.jpg"


def test_labels_outside_coco80_are_refused(tmp_path):
    _write(
        tmp_path, [{"id": 1, "name": "pedestrian"}], [{"id": 1, "image_id": 3, "category_id": 1, "bbox": [1, 1, 2, 2]}]
    )
    with pytest.raises(ValueError, match="pedestrian"):
        load_coco_extra(tmp_path)


def test_materialised_photos(repo_dir):
    root = repo_dir / DIRECTORY
    if not (root / "instances.json").is_file():
        pytest.skip(f"{DIRECTORY} not materialised (python -m webdetr_tools.data.coco_extra --mirror ...)")
    samples = load_coco_extra(root)
    assert len(samples) >= 400
    assert len({s.image.name for s in samples}) == len(samples)
    assert {label for s in samples for label in s.labels} == set(COCO80_NAMES)
    for s in samples:
        assert s.image.is_file()
        if len(s.boxes):
            assert (s.boxes[:, 2] > s.boxes[:, 0]).all() and (s.boxes[:, 3] > s.boxes[:, 1]).all()
            assert s.boxes[:, [0, 1]].min() >= 0
            assert (s.boxes[:, 2] <= s.width + 1).all() and (s.boxes[:, 3] <= s.height + 1).all()
    coco128 = repo_dir.parent / "shared" / "data" / "coco128" / "images"
    if coco128.is_dir():
        assert not {s.image.name for s in samples} & {p.name for p in coco128.iterdir()}
