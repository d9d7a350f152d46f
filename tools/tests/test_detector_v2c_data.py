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
