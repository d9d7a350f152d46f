"""webdetr_tools/evaluation/oneshot_ceiling.py (tools/experiments/oneshot_ceiling.py): recall counts and the oracle
bounds on hand-made detections (three pictures of class 'a' and 'b'; a confident box in a picture
lacking the query's class outranks the true match)."""
from types import SimpleNamespace

import numpy as np
import pytest

from webdetr_tools.evaluation.oneshot_ceiling import ceiling
from webdetr_tools.evaluation.oneshot_ap import OneShotQuery


def _sample(boxes, labels):
    return SimpleNamespace(boxes=np.array(boxes, float), labels=labels, width=100, height=100)


SAMPLES = [
    _sample([[0, 0, 20, 20], [50, 50, 70, 70]], ["a", "a"]),  # the query's picture: one more 'a'
    _sample([[10, 10, 30, 30]], ["a"]),  # another 'a'
    _sample([[60, 0, 90, 30]], ["b"]),
]  # no 'a'
QUERIES = [OneShotQuery(0, 0, (0.0, 0.0, 20.0, 20.0), "a")]
PAIRS = [(0, 0, True), (0, 1, False), (0, 2, False)]


def test_bounds_lift_the_true_matches_above_the_false_alarms_of_other_pictures():
    detections = [
        (np.array([[50, 50, 70, 70]]), np.array([0.5])),  # same image: the other 'a' (hit)
        (np.array([[40, 40, 60, 60], [10, 10, 30, 30]]), np.array([0.9, 0.3])),  # a miss above the hit
        (np.array([[60, 0, 90, 30]]), np.array([0.8])),
    ]  # the 'b' in a picture without 'a'
    out = ceiling(SAMPLES, QUERIES, PAIRS, detections)
    assert out["recall_at_iou50"] == {"same_image": "1/1", "cross_image": "1/1"}
    assert out["model"]["AP50"] < 100
    # every cross-image box that matches nothing goes last: both targets rank first
    assert out["oracle_cross_image_false_boxes_last"] == pytest.approx(100)
    assert out["oracle_false_boxes_last"] == pytest.approx(100)
    # only the picture lacking 'a' goes last: the miss at 0.9 in picture 1 still outranks its hit
    assert out["model"]["AP50"] < out["oracle_absent_class_pairs_last"] < 100


def test_recall_counts_targets_no_box_found():
    detections = [
        (np.array([[0, 80, 10, 90]]), np.array([0.5])),
        (np.zeros((0, 4)), np.zeros(0)),
        (np.zeros((0, 4)), np.zeros(0)),
    ]
    out = ceiling(SAMPLES, QUERIES, PAIRS, detections)
    assert out["recall_at_iou50"] == {"same_image": "0/1", "cross_image": "0/1"}
    assert out["oracle_cross_image_false_boxes_last"] == out["oracle_false_boxes_last"] == 0


def test_a_perfect_ranking_also_lifts_hits_above_false_alarms_in_the_query_picture():
    detections = [
        (np.array([[30, 30, 45, 45], [50, 50, 70, 70]]), np.array([0.9, 0.5])),  # a miss above the hit
        (np.array([[10, 10, 30, 30]]), np.array([0.3])),
        (np.zeros((0, 4)), np.zeros(0)),
    ]
    out = ceiling(SAMPLES, QUERIES, PAIRS, detections)
    assert out["oracle_cross_image_false_boxes_last"] < out["oracle_false_boxes_last"] == pytest.approx(100)


def test_recall_by_target_side_at_the_model_input():
    # at a 40 px input the 100 px pictures shrink 2.5x: the 20 px targets are 8 px (the < 16 bucket)
    detections = [
        (np.array([[50, 50, 70, 70]]), np.array([0.5])),
        (np.zeros((0, 4)), np.zeros(0)),
        (np.zeros((0, 4)), np.zeros(0)),
    ]
    out = ceiling(SAMPLES, QUERIES, PAIRS, detections, input_size=40)
    assert out["recall_any_box_by_target_side"] == {"0-16px": "1/2", "16-32px": "0/0", ">=32px": "0/0"}
    out = ceiling(SAMPLES, QUERIES, PAIRS, detections, input_size=100)  # 20 px at 100: the 16-32 bucket
    assert out["recall_any_box_by_target_side"] == {"0-16px": "0/0", "16-32px": "1/2", ">=32px": "0/0"}
    assert "recall_any_box_by_target_side" not in ceiling(SAMPLES, QUERIES, PAIRS, detections)


def test_percentiles_of_the_model_box_sides_at_the_input():
    # 100 px pictures at a 50 px input: 20 px boxes are 10 px, the 40 px one 20 px
    detections = [
        (np.array([[50, 50, 70, 70], [0, 0, 40, 40]]), np.array([0.5, 0.4])),
        (np.array([[10, 10, 30, 30]]), np.array([0.3])),
        (np.zeros((0, 4)), np.zeros(0)),
    ]
    sides = ceiling(SAMPLES, QUERIES, PAIRS, detections, input_size=50)["box_side_percentiles"]
    assert sides["p1"] == pytest.approx(10) and sides["p50"] == pytest.approx(10)
    assert (
        ceiling(SAMPLES, QUERIES, PAIRS, [(np.zeros((0, 4)), np.zeros(0))] * 3, input_size=50)["box_side_percentiles"]
        == {}
    )
