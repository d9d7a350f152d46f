"""Class-wise duplicate suppression (manifest output.duplicateIou): training.evaluate.suppress_duplicates and
postprocess(duplicate_iou=...), the rule of the runtime's suppressDuplicates (test/postprocess/duplicates.test.ts
has the same cases)."""
import json

import numpy as np
import torch
from torchvision.ops import batched_nms

from webdetr_tools.detector_v2.config import REPO
from webdetr_tools.ship.detector_v2b_package import DUPLICATE_IOU
from webdetr_tools.training.evaluate import postprocess, suppress_duplicates


def rows(*specs):
    """(class, score, x[, width]) -> boxes [N, 4] (height 10), scores, labels."""
    boxes = np.array([[x, 0, x + (w[0] if w else 10), 10] for _, _, x, *w in specs], np.float32)
    return boxes, np.array([s for _, s, *_ in specs], np.float32), np.array([c for c, *_ in specs], np.int64)


def test_drops_a_weaker_box_of_its_class_above_the_iou():
    boxes, scores, labels = rows((1, 0.9, 0), (1, 0.6, 1), (1, 0.5, 5), (2, 0.4, 40))  # IoU 0.818, 0.333
    assert suppress_duplicates(boxes, scores, labels, 0.7).tolist() == [0, 2, 3]
    assert suppress_duplicates(boxes, scores, labels, 0.3).tolist() == [0, 3]


def test_classes_never_suppress_each_other():
    assert suppress_duplicates(*rows((1, 0.9, 0), (2, 0.8, 0), (2, 0.7, 1)), 0.7).tolist() == [0, 1]


def test_only_iou_above_suppresses_and_suppressed_boxes_suppress_nothing():
    assert suppress_duplicates(*rows((1, 0.9, 0), (1, 0.8, 5)), 1 / 3).tolist() == [0, 1]
    assert suppress_duplicates(*rows((1, 0.9, 0), (1, 0.8, 4), (1, 0.7, 8)), 0.4).tolist() == [0, 2]


def test_equal_scores_keep_the_earlier_box():
    assert suppress_duplicates(*rows((1, 0.5, 1), (1, 0.5, 0)), 0.7).tolist() == [0]


def test_same_as_torchvision_batched_nms_without_ties():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        xy = torch.rand(60, 2, generator=gen) * 50
        boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=gen) * 30], 1)
        scores = torch.rand(60, generator=gen)
        labels = torch.randint(0, 3, (60,), generator=gen)
        expected = sorted(batched_nms(boxes.double(), scores.double(), labels, 0.5).tolist())
        assert suppress_duplicates(boxes.numpy(), scores.numpy(), labels.numpy(), 0.5).tolist() == expected


def test_postprocess_applies_it_after_the_top_k_only_when_asked():
    # Three queries: q0 and q1 nearly the same box, both class 1; q2 class 2 on q0's box.
    logits = torch.full((1, 3, 3), -9.0)
    logits[0, 0, 1], logits[0, 1, 1], logits[0, 2, 2] = 2.0, 1.5, 1.8
    boxes = torch.tensor([[[0.5, 0.5, 0.5, 0.5], [0.51, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]]])
    _, scores, labels = postprocess(logits, boxes, [(100, 100)], k=3)[0]
    assert labels.tolist() == [1, 2, 1]
    kept_boxes, scores, labels = postprocess(logits, boxes, [(100, 100)], k=3, duplicate_iou=0.7)[0]
    assert labels.tolist() == [1, 2] and kept_boxes.shape == (2, 4) and scores[0] > scores[1]


def test_the_shipped_manifest_carries_the_exporters_duplicate_iou():
    manifest = json.loads((REPO / "public" / "models" / "detector" / "manifest.json").read_text())
    assert manifest["output"]["duplicateIou"] == DUPLICATE_IOU
