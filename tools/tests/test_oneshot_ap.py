"""One-shot AP50 protocol on hand-made cases (query choice, pairs, ignore rule, pooled ranking)."""
import math
from pathlib import Path

import numpy as np
import pytest

from webdetr_tools.data.datasets import Sample
from webdetr_tools.evaluation.oneshot_ap import OneShotQuery, evaluate_oneshot, make_pairs, make_queries, run_protocol


def sample(name, boxes, labels):
    return Sample(Path(name), 100, 100, np.array(boxes, np.float32).reshape(-1, 4), labels)


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 70, 70]


def two_images():
    # image 0: two cats + a dog; image 1: one cat
    return [sample("0.jpg", [A, B, C], ["cat", "cat", "dog"]), sample("1.jpg", [C], ["cat"])]


def test_queries_skip_singleton_classes_and_small_boxes():
    samples = [sample("0.jpg", [A, B, [0, 0, 4, 40]], ["cat", "cat", "cat"]), sample("1.jpg", [C], ["dog"])]
    queries = make_queries(samples, max_queries=10, seed=0, min_size=8)
    assert {(q.image, q.instance) for q in queries} == {(0, 0), (0, 1)}  # dog: 1 instance; 4-px box: too thin
    assert all(q.label == "cat" for q in queries)


def test_queries_are_balanced_over_classes_and_seeded():
    samples = [sample(f"{i}.jpg", [A, B], ["rbc", "rbc"]) for i in range(20)] + [
        sample("w.jpg", [A, B], ["wbc", "wbc"])
    ]
    queries = make_queries(samples, max_queries=4, seed=3)
    assert len(queries) == 4
    assert sum(q.label == "wbc" for q in queries) == 2  # ceil(4 / 2 classes) each, not 4 RBCs
    assert queries == make_queries(samples, max_queries=4, seed=3)


def test_pairs_same_image_first_then_seeded_other_images():
    samples = [sample(f"{i}.jpg", [A, B], ["x", "x"]) for i in range(6)]
    queries = [OneShotQuery(2, 0, tuple(A), "x")]
    pairs = make_pairs(samples, queries, cross_images=3, seed=0)
    assert pairs[0] == (0, 2, True)
    assert len(pairs) == 4 and all(not same and t != 2 for _, t, same in pairs[1:])
    assert len({t for _, t, _ in pairs}) == 4
    assert pairs == make_pairs(samples, queries, cross_images=3, seed=0)


def test_perfect_detector_gets_1_and_query_box_is_ignored():
    samples = two_images()
    q = OneShotQuery(0, 0, tuple(A), "cat")
    pairs = [(0, 0, True), (0, 1, False)]
    # same image: finds the query itself (ignored, even ranked first) and the other cat; image 1: its cat
    dets = [(np.array([A, B]), np.array([0.99, 0.9])), (np.array([C]), np.array([0.8]))]
    out = evaluate_oneshot(samples, [q], pairs, dets)
    assert out["AP50"] == 1.0 and out["AP50_same_image"] == 1.0 and out["AP50_cross_image"] == 1.0
    assert out["targets"] == 2


def test_dog_is_a_false_alarm_and_ranking_is_pooled_across_pairs():
    samples = two_images()
    q = OneShotQuery(0, 0, tuple(A), "cat")
    pairs = [(0, 0, True), (0, 1, False)]
    # ranked over both pairs: dog box (0.95, FP), cat B (0.9, TP), cat in image 1 (0.5, TP)
    # precision/recall: (0, 0), (1/2, 1/2), (2/3, 1) -> monotone precision 2/3 at every recall point
    dets = [(np.array([C, B]), np.array([0.95, 0.9])), (np.array([C]), np.array([0.5]))]
    out = evaluate_oneshot(samples, [q], pairs, dets)
    assert out["AP50"] == pytest.approx(2 / 3)
    # same-image pairs alone: FP then TP over 1 target -> 1/2; cross-image alone: 1
    assert out["AP50_same_image"] == pytest.approx(0.5)
    assert out["AP50_cross_image"] == 1.0


def test_query_box_hit_that_also_matches_a_target_counts_as_a_hit():
    # The other cat overlaps the query heavily; a box on it matches the target first, so it is a hit.
    target = [0, 0, 10, 11]
    samples = [sample("0.jpg", [A, target], ["cat", "cat"])]
    q = OneShotQuery(0, 0, tuple(A), "cat")
    out = evaluate_oneshot(samples, [q], [(0, 0, True)], [(np.array([A]), np.array([0.7]))])
    assert out["AP50"] == 1.0


def test_max_detections_cuts_each_pair():
    samples = two_images()
    q = OneShotQuery(0, 0, tuple(A), "cat")
    # the true hit is the 3rd best box of the pair: with max_detections=2 it is cut off
    dets = [(np.array([C, C, B]), np.array([0.9, 0.8, 0.7]))]
    assert evaluate_oneshot(samples, [q], [(0, 0, True)], dets, max_detections=2)["AP50"] == 0.0
    assert evaluate_oneshot(samples, [q], [(0, 0, True)], dets, max_detections=3)["AP50"] > 0


def test_same_image_has_no_target_gives_nan_there():
    samples = [sample("0.jpg", [A], ["cat"]), sample("1.jpg", [B], ["cat"])]
    q = OneShotQuery(0, 0, tuple(A), "cat")
    out = evaluate_oneshot(
        samples, [q], [(0, 0, True), (0, 1, False)], [(np.zeros((0, 4)), np.zeros(0)), (np.array([B]), np.array([0.6]))]
    )
    assert math.isnan(out["AP50_same_image"]) and out["AP50"] == 1.0


def test_run_protocol_with_an_oracle_detector():
    samples = [
        sample(f"{i}.jpg", [A, B, C], ["cat", "cat", "dog"] if i % 2 else ["cat", "dog", "dog"]) for i in range(6)
    ]

    def oracle(query, targets):
        outs = []
        for t in targets:
            s = samples[t]
            keep = [k for k, label in enumerate(s.labels) if label == query.label]
            outs.append((s.boxes[keep], np.linspace(0.9, 0.8, len(keep))))
        return outs

    out = run_protocol(samples, oracle, max_queries=6, cross_images=2, seed=1)
    assert out["AP50"] == 1.0 and out["queries"] == 6 and out["pairs"] == 18
    assert set(out["per_class_AP50"]) == {"cat", "dog"}
