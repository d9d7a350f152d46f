"""How far re-scoring alone can take a one-shot checkpoint's AP50 (evaluation/oneshot_ap.py protocol,
held-out splits, PyTorch on the runtime input path as tools/eval_shipped_oneshot.py:
webdetr_tools/oneshot/runtime_path.py).

Per set it reports the checkpoint's AP50 (all pairs / same-image / cross-image), the recall of its boxes
(targets matched at IoU >= 0.5 by any of a pair's 20 boxes, same-image and cross-image pairs apart), and three
oracle AP50s computed from the same boxes with the ground truth, each pushing some boxes below all others:
every box that matches no target (a perfect ranking: no calibration or other re-scoring of these boxes can do
better; past it, the model must find more of the targets), every such box of a cross-image pair (a perfect
cross-picture signal), and the boxes of cross-image pairs whose picture lacks the class (a perfect "class
absent in this picture" signal). With the model's input size it also splits the targets by their side at that
input (sqrt of the box's area once the picture is stretched to size x size: under 16, 16-32, 32 px and over)
and reports per bucket how many some box of their pair overlaps at IoU >= 0.5 (any box, not the greedy
matching; same- and cross-image pairs together): whether the misses are the objects too small for the
model's input, and the percentiles (1, 5, 50) of the side of the model's own boxes at that input (any floor under
which the model never answers: the one-shot model fine-tuned with 5 %-of-side patches never drew a box under
about 22 px at 320, which no target of 13 px can match at IoU 0.5).

The command line: tools/experiments/oneshot_ceiling.py (-> tools/experiments/results/oneshot_ceiling.json).
"""
import numpy as np

from webdetr_tools.evaluation.coco_ap import box_iou
from webdetr_tools.evaluation.oneshot_ap import _targets, detect_pairs, evaluate_oneshot, make_pairs, make_queries
from webdetr_tools.oneshot.calibration import match_labels
from webdetr_tools.oneshot.runtime_path import RuntimePathDetector, whole_pixel_box


def _ap(samples, queries, pairs, detections):
    out = evaluate_oneshot(samples, queries, pairs, detections)
    return {k: round(100 * out[k], 2) for k in ("AP50", "AP50_same_image", "AP50_cross_image")}


def set_ceiling(model, backbone, samples, size):
    queries = make_queries(samples, 60, 0)
    pairs = make_pairs(samples, queries, 5, 0)
    detections = detect_pairs(queries, pairs, RuntimePathDetector(model, backbone, samples, size))
    return ceiling(samples, queries, pairs, detections, size)


SIZE_BUCKETS = ((0, 16), (16, 32), (32, float("inf")))  # target side at the model input, pixels


def _bucket_name(low, high):
    return f"{low:g}-{high:g}px" if high != float("inf") else f">={low:g}px"


def _count_by_side(by_size, targets, boxes, sample, input_size):
    """Adds to by_size[bucket] = [overlapped by some box, targets] a pair's targets (xyxy px of sample), bucketed by
    their side once the picture is stretched to input_size x input_size."""
    sides = _sides(targets, sample, input_size)
    hit = (box_iou(targets, boxes) >= 0.5).any(1) if len(boxes) else np.zeros(len(targets), bool)
    for low, high in SIZE_BUCKETS:
        inside = (sides >= low) & (sides < high)
        by_size[(low, high)][0] += int(hit[inside].sum())
        by_size[(low, high)][1] += int(inside.sum())


def _sides(boxes, sample, input_size):
    """sqrt of each box's area (xyxy px of sample) once the picture is stretched to input_size x input_size."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    wh = (boxes[:, 2:] - boxes[:, :2]).clip(0)
    return np.sqrt(wh[:, 0] * wh[:, 1] * input_size**2 / (sample.width * sample.height))


def ceiling(samples, queries, pairs, detections, input_size=None):
    """The protocol's AP50s, recall and the oracle bounds for given detections [(boxes xyxy px, scores)]; with
    input_size, recall per target size at the model input and the percentiles of the boxes' own sides there."""
    found, total, no_match, no_match_cross, absent = {True: 0, False: 0}, {True: 0, False: 0}, [], [], []
    by_size = {bucket: [0, 0] for bucket in SIZE_BUCKETS}  # [overlapped by some box, targets]
    for (n, t, same), (boxes, scores) in zip(pairs, detections):
        q = queries[n]
        targets = _targets(samples, q, t, same)
        if input_size is not None and len(targets):
            _count_by_side(by_size, targets, boxes, samples[t], input_size)
        _, labels = match_labels(boxes, scores, targets, whole_pixel_box(q.box, samples[q.image]) if same else None)
        found[same] += int(labels.sum())
        total[same] += len(targets)
        no_match.append(labels == 0)
        no_match_cross.append((labels == 0) & (not same))
        absent.append(np.full(len(scores), not same and len(targets) == 0))
    low = -1.0 - max((float(np.max(s)) for _, s in detections if len(s)), default=0.0)  # below every real score

    def pushed(masks):
        return [(b, np.where(m, low + s * 1e-3, s)) for (b, s), m in zip(detections, masks)]

    return {
        "queries": len(queries),
        "pairs": len(pairs),
        "model": _ap(samples, queries, pairs, detections),
        "recall_at_iou50": {
            "same_image": f"{found[True]}/{total[True]}",
            "cross_image": f"{found[False]}/{total[False]}",
        },
        "oracle_false_boxes_last": _ap(samples, queries, pairs, pushed(no_match))["AP50"],
        "oracle_cross_image_false_boxes_last": _ap(samples, queries, pairs, pushed(no_match_cross))["AP50"],
        "oracle_absent_class_pairs_last": _ap(samples, queries, pairs, pushed(absent))["AP50"],
        **(
            {
                "input_size": input_size,
                "recall_any_box_by_target_side": {
                    _bucket_name(*bucket): f"{hit}/{count}" for bucket, (hit, count) in by_size.items()
                },
                "box_side_percentiles": _side_percentiles(pairs, detections, samples, input_size),
            }
            if input_size is not None
            else {}
        ),
    }


def _side_percentiles(pairs, detections, samples, input_size):
    sides = np.concatenate([_sides(boxes, samples[t], input_size) for (_, t, _), (boxes, _) in zip(pairs, detections)])
    return {f"p{q}": round(float(np.percentile(sides, q)), 1) for q in (1, 5, 50)} if len(sides) else {}
