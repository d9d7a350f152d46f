"""The CLI's JSON detections -> xyxy arrays, as eval_shipped*.py read them."""
import numpy as np

from webdetr_tools.evaluation.cli_detections import cli_boxes_scores


def test_cli_detections_become_xyxy_boxes_and_scores_in_order():
    dets = [
        {"box": {"x": 10.5, "y": 20, "width": 30, "height": 4.25}, "score": 0.9, "label": "person"},
        {"box": {"x": 0, "y": 0, "width": 1, "height": 2}, "score": 0.1, "label": "dog"},
    ]
    boxes, scores = cli_boxes_scores(dets, np.float32)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_array_equal(boxes, [[10.5, 20, 40.5, 24.25], [0, 0, 1, 2]])
    np.testing.assert_array_equal(scores, np.array([0.9, 0.1], np.float32))


def test_cli_no_detections_give_empty_arrays_of_the_right_shape():
    boxes, scores = cli_boxes_scores([])
    assert boxes.shape == (0, 4) and boxes.dtype == np.float64
    assert scores.shape == (0,)
