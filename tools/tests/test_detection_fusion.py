"""Fusing two detectors' outputs (webdetr_tools/evaluation/detection_fusion.py): same-class overlaps merge,
other classes and distant boxes survive, scales apply per source."""
import numpy as np

from webdetr_tools.evaluation.detection_fusion import fuse

A = (np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32), np.array([0.6, 0.5]), np.array([1, 2]))
B = (np.array([[1, 0, 11, 10], [0, 0, 10, 10]], np.float32), np.array([0.9, 0.8]), np.array([1, 3]))


def test_max_keeps_the_higher_scored_box_of_a_same_class_overlap():
    boxes, scores, labels = fuse([A, B], [1.0, 1.0], iou=0.5, mode="max")
    assert sorted(zip(labels.tolist(), [round(float(s), 3) for s in scores])) == [(1, 0.9), (2, 0.5), (3, 0.8)]
    assert boxes[list(labels).index(1)].tolist() == [1, 0, 11, 10]


def test_source_scale_changes_which_box_survives():
    boxes, scores, labels = fuse([A, B], [1.0, 0.5], iou=0.5, mode="max")
    k = list(labels).index(1)
    assert np.isclose(scores[k], 0.6) and boxes[k].tolist() == [0, 0, 10, 10]


def test_weighted_averages_the_merged_boxes_by_score():
    boxes, scores, labels = fuse([A, B], [1.0, 1.0], iou=0.5, mode="weighted")
    k = list(labels).index(1)
    assert np.allclose(boxes[k], [0.9 / 1.5, 0, 10 + 0.9 / 1.5, 10]) and np.isclose(scores[k], 0.9)


def test_fast_nms_agrees_with_greedy_here():
    greedy = fuse([A, B], [1.0, 1.0], mode="max")
    fast = fuse([A, B], [1.0, 1.0], mode="fast")
    assert sorted(greedy[2].tolist()) == sorted(fast[2].tolist())
