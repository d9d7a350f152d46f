"""Our COCO-style AP against hand-computed cases."""
import math

import numpy as np
import pytest

from webdetr_tools.evaluation.coco_ap import ImageResult, box_iou, evaluate


def result(gt, gt_labels, dets, scores, labels):
    return ImageResult(
        np.array(gt, float).reshape(-1, 4),
        np.array(gt_labels),
        np.array(dets, float).reshape(-1, 4),
        np.array(scores, float),
        np.array(labels),
    )


def test_iou_of_half_overlapping_boxes():
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2])[0, 0] == pytest.approx(2 / 6)


def test_perfect_detections_give_ap_1():
    r = result([[0, 0, 10, 10], [20, 20, 30, 40]], [0, 1], [[0, 0, 10, 10], [20, 20, 30, 40]], [0.9, 0.8], [0, 1])
    assert evaluate([r]) == {"AP": 1.0, "AP50": 1.0, "AP75": 1.0}


def test_false_positive_ranked_first_halves_precision_at_full_recall():
    # One GT; an unrelated detection scores higher than the correct one.
    # Precision/recall after each detection: (0, 0), (0.5, 1). Monotone precision = 0.5 at all 101
    # recall points -> AP50 = 0.5.
    r = result([[0, 0, 10, 10]], [0], [[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])
    assert evaluate([r])["AP50"] == pytest.approx(0.5)


def test_missed_ground_truth_caps_recall():
    # Two GT, one found: recall reaches 0.5 with precision 1 -> 51 of 101 recall points (0..0.5) -> 51/101.
    r = result([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0], [[0, 0, 10, 10]], [0.9], [0])
    assert evaluate([r])["AP50"] == pytest.approx(51 / 101)


def test_iou_thresholds_average():
    # Detection with IoU 0.68 against its GT: a hit for thresholds 0.50..0.65 (4 of 10) only.
    gt = [0, 0, 100, 100]
    det = [0, 0, 100, 68]
    assert box_iou(det, gt)[0, 0] == pytest.approx(0.68)
    out = evaluate([result([gt], [0], [det], [0.9], [0])])
    assert out["AP50"] == 1.0 and out["AP75"] == 0.0
    assert out["AP"] == pytest.approx(0.4)


def test_duplicate_detection_is_a_false_positive_and_classes_average():
    # Class 0: duplicate after the true positive -> precision 1 at recall 1 (monotone) -> AP 1.
    # Class 1: GT never detected -> AP 0. Mean over classes with GT: 0.5.
    r = result([[0, 0, 10, 10], [30, 30, 40, 40]], [0, 1], [[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])
    assert evaluate([r])["AP50"] == pytest.approx(0.5)


def test_matching_is_per_image():
    a = result([[0, 0, 10, 10]], [0], [[0, 0, 10, 10]], [0.9], [0])
    b = result([[0, 0, 10, 10]], [0], [], [], [])
    assert evaluate([a, b])["AP50"] == pytest.approx(51 / 101)


def test_no_ground_truth_is_nan():
    assert math.isnan(evaluate([result([], [], [[0, 0, 1, 1]], [0.5], [0])])["AP"])
