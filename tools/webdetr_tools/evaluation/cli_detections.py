"""The webdetr CLI's JSON detections (`detect --json`) as arrays for our AP code.

The CLI gives each detection as {"box": {"x", "y", "width", "height"}, "score", "label"} in image pixels;
the evaluations want xyxy boxes [N, 4] and scores [N], in the detections' order.
"""
import numpy as np


def cli_boxes_scores(detections, dtype=np.float64):
    """(boxes [N, 4] xyxy, scores [N]) of a list of CLI detections; N may be 0 (boxes then [0, 4])."""
    boxes = np.array(
        [
            [d["box"]["x"], d["box"]["y"], d["box"]["x"] + d["box"]["width"], d["box"]["y"] + d["box"]["height"]]
            for d in detections
        ],
        dtype,
    ).reshape(-1, 4)
    return boxes, np.array([d["score"] for d in detections], dtype)
