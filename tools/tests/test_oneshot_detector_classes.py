"""One-shot from the detector's classes (webdetr_tools/oneshot/detector_classes.py): region class vectors take
the max over the overlapping queries only, the similarities rank a same-class box above another class's, and the
score adds its terms with their weights."""
import math

import pytest
import torch

from webdetr_tools.oneshot.detector_classes import (
    candidates,
    class_similarity,
    combined_score,
    query_boxes,
    region_class_vectors,
)

ZEBRA, HORSE, CAT = 22, 17, 15


def one_hot(rows):
    probs = torch.full((len(rows), 80), 1e-5)
    for i, (c, p) in enumerate(rows):
        probs[i, c] = p
    return probs


def test_query_boxes_convert_centre_size_and_clip():
    boxes = query_boxes(torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.95, 0.1, 0.2, 0.4]]))
    assert torch.allclose(boxes, torch.tensor([[0.4, 0.3, 0.6, 0.7], [0.85, 0.0, 1.0, 0.3]]))


def test_region_vector_is_the_max_over_overlapping_queries_only():
    boxes = torch.tensor(
        [
            [0.10, 0.10, 0.40, 0.40],  # zebra 0.6 on the region
            [0.11, 0.10, 0.40, 0.41],  # the same object read as horse 0.3
            [0.10, 0.10, 0.41, 0.40],  # and as zebra again, weaker
            [0.60, 0.60, 0.90, 0.90],  # a confident zebra elsewhere: must not count
            [0.10, 0.10, 0.20, 0.20],  # a small part (IoU 0.11): must not count
        ]
    )
    probs = one_hot([(ZEBRA, 0.6), (HORSE, 0.3), (ZEBRA, 0.2), (ZEBRA, 0.99), (CAT, 0.9)])
    v = region_class_vectors(boxes, probs, torch.tensor([[0.10, 0.10, 0.40, 0.40]]), iou_min=0.5)[0]
    assert v[ZEBRA] == pytest.approx(0.6)
    assert v[HORSE] == pytest.approx(0.3)
    assert v[CAT] == pytest.approx(1e-5)


def test_region_without_an_overlap_above_the_threshold_takes_its_best_query_or_zeros():
    boxes = torch.tensor([[0.0, 0.0, 0.4, 0.4], [0.3, 0.3, 0.5, 0.5]])
    probs = one_hot([(CAT, 0.7), (HORSE, 0.8)])
    regions = torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.8, 0.8, 0.9, 0.9]])  # IoU 0.25 with the cat; nothing
    v = region_class_vectors(boxes, probs, regions, iou_min=0.5)
    assert v[0, CAT] == pytest.approx(0.7) and v[0, HORSE] == pytest.approx(1e-5)
    assert torch.count_nonzero(v[1]) == 0
    assert region_class_vectors(boxes[:0], probs[:0], regions).shape == (2, 80)


def test_similarities_rank_the_patch_class_above_another_class():
    patch = one_hot([(ZEBRA, 0.8)])[0]
    patch[HORSE] = 0.2
    boxes = one_hot([(ZEBRA, 0.5), (CAT, 0.9), (ZEBRA, 0.1)])
    center = torch.full((80,), 1e-5)
    for mode in ("cos", "ndot", "cos_obj", "cos_centred"):
        s = class_similarity(patch, boxes, mode, center=center)
        assert s[0] > s[1] and s[2] > s[1], mode
    # the cosine ignores confidence; ndot and cos_obj prefer the confident zebra
    cos = class_similarity(patch, boxes, "cos")
    assert cos[0] == pytest.approx(cos[2], abs=1e-3)
    assert class_similarity(patch, boxes, "ndot")[0] > class_similarity(patch, boxes, "ndot")[2]
    assert class_similarity(patch, boxes, "cos_obj")[0] > class_similarity(patch, boxes, "cos_obj")[2]


def test_zero_vectors_score_zero_not_nan_and_unknown_modes_fail():
    patch = one_hot([(ZEBRA, 0.8)])[0]
    s = class_similarity(patch, torch.zeros(2, 80), "cos")
    assert torch.equal(s, torch.zeros(2))
    assert torch.equal(class_similarity(torch.zeros(80), one_hot([(ZEBRA, 0.5)]), "cos_obj"), torch.zeros(1))
    with pytest.raises(ValueError):
        class_similarity(patch, torch.zeros(1, 80), "dot")
    with pytest.raises(ValueError):
        class_similarity(patch, torch.zeros(1, 80), "cos_centred")


def test_candidates_suppress_duplicates_class_agnostically_by_max_score():
    boxes = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.11, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]])
    probs = one_hot([(ZEBRA, 0.4), (HORSE, 0.9), (CAT, 0.2)])
    kept, objectness = candidates(boxes, probs, nms_iou=0.7)
    assert torch.allclose(objectness, torch.tensor([0.9, 0.2]))
    assert torch.allclose(kept[0], boxes[1])


def test_combined_score_adds_weighted_terms():
    cls = torch.tensor([0.5, 0.1])
    app = torch.tensor([0.2, 0.8])
    obj = torch.tensor([1.0, math.exp(-1)])
    assert torch.allclose(combined_score(cls, None, obj), cls)
    assert torch.allclose(combined_score(cls, app, obj, 2.0, 0.2), torch.tensor([0.9, 1.7 - 0.2]))
