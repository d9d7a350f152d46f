"""Dataset readers on the real sets in ../shared/data (read-only, nothing copied)."""
import warnings

import numpy as np

from webdetr_tools.data.datasets import (
    LOADERS,
    load_bccd,
    load_coco128,
    load_pennfudan,
    load_raccoon,
    load_unlabeled,
    read_rgb,
    seeded_split,
)


def test_counts_match_the_data_readme(shared_dir):
    data = shared_dir / "data"
    bccd = LOADERS["bccd"](data / "bccd")
    labels = [l for s in bccd for l in s.labels]
    assert len(bccd) == 364
    assert (labels.count("RBC"), labels.count("WBC"), labels.count("Platelets")) == (4155, 372, 361)
    assert sum(len(s.boxes) for s in load_raccoon(data / "raccoon")) == 217
    coco = load_coco128(data / "coco128")
    # 939 boxes of which 10 are crowd regions (iscrowd=1), which COCO evaluation ignores.
    assert len(coco) == 128 and sum(len(s.boxes) for s in coco) == 929
    penn = load_pennfudan(data / "pennfudan")
    assert len(penn) == 170 and all(len(s.boxes) >= 1 for s in penn)
    assert len(load_unlabeled(data / "unlabeled")) == 334


def test_boxes_are_inside_their_images(shared_dir):
    for name, loader in LOADERS.items():
        for s in loader(shared_dir / "data" / name):
            if len(s.boxes):
                assert (s.boxes[:, :2] >= -1e-3).all() and (s.boxes[:, 2] <= s.width + 1e-3).all(), (name, s.image)
                assert (s.boxes[:, 2:] > s.boxes[:, :2]).all(), (name, s.image)


def test_voc_and_pennfudan_coordinates_convert_from_one_based(shared_dir):
    first = load_bccd(shared_dir / "data/bccd", "trainval")[0]
    assert first.image.name == "BloodImage_00000.jpg"
    assert first.labels[0] == "WBC" and first.boxes[0].tolist() == [259, 176, 491, 376]
    penn = load_pennfudan(shared_dir / "data/pennfudan")[0]
    assert penn.boxes.tolist() == [[159, 181, 302, 431], [419, 170, 535, 486]]


def test_seeded_split_is_deterministic_and_disjoint(shared_dir):
    samples = load_raccoon(shared_dir / "data/raccoon")
    train, val = seeded_split(samples, 0.2, seed=7)
    train2, val2 = seeded_split(list(reversed(samples)), 0.2, seed=7)
    assert [s.image for s in val] == [s.image for s in val2] and len(val) == 40
    assert not {s.image for s in train} & {s.image for s in val}


def test_damaged_image_is_skipped_with_a_warning(tmp_path, shared_dir):
    bad = tmp_path / "bad.jpg"
    good = (shared_dir / "data/raccoon/images").iterdir().__next__().read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_rgb(bad) is None  # truncated JPEG: PIL refuses to load it
        assert read_rgb(tmp_path / "missing.jpg") is None
        assert read_rgb(tmp_path / "missing.jpg") is None
    ok = read_rgb(next((shared_dir / "data/raccoon/images").iterdir()))
    assert isinstance(ok, np.ndarray) and ok.ndim == 3 and ok.shape[2] == 3
    assert any("skipping undecodable image" in str(w.message) for w in caught)
