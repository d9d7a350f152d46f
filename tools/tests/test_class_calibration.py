import numpy as np
import pytest
import torch

from webdetr_tools.detector_v2.class_calibration import (
    ClassCalibration,
    LabelledPairs,
    fit,
    label_pairs,
    log_loss,
    pair_logits,
)


def test_label_pairs_matches_like_coco():
    # Two queries on one cat box (the better one is right, the duplicate wrong), one on a dog box with the wrong
    # class, one far away; pairs under the floor are left out.
    logits = np.full((4, 3), -9.0)
    logits[0, 1], logits[1, 1], logits[2, 1], logits[3, 1] = 2.0, 1.0, 0.5, -1.0
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [50, 50, 60, 60]], float)
    gt_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    gt_labels = np.array([1, 2])
    pairs = label_pairs(logits, boxes, gt_boxes, gt_labels)
    assert sorted(zip(pairs.logits.tolist(), pairs.right.tolist())) == [(-1.0, 0), (0.5, 0), (1.0, 0), (2.0, 1)]
    assert set(pairs.classes.tolist()) == {1}
    np.testing.assert_array_equal(pairs.base, pairs.logits)  # no base given: the logit is its own base


def test_label_pairs_object_free_picture_is_all_wrong():
    logits = np.array([[0.3, -0.2]])
    pairs = label_pairs(logits, np.array([[0, 0, 5, 5]], float), np.zeros((0, 4)), np.zeros(0, np.int64))
    assert pairs.right.tolist() == [0, 0]


def synthetic(rng, n, true_bias):
    classes = rng.randint(0, len(true_bias), n)
    logits = rng.randn(n) * 2
    p = 1 / (1 + np.exp(-(logits + true_bias[classes])))
    return LabelledPairs(logits, classes, (rng.rand(n) < p).astype(float), logits.copy())


def test_fit_recovers_a_class_offset_and_lowers_the_loss():
    rng = np.random.RandomState(0)
    true_bias = np.array([0.0, 1.5, -1.0])
    pairs = synthetic(rng, 20000, true_bias)
    calibration = fit(pairs, 3, l2=1e-6, per_class_scale=False)
    np.testing.assert_allclose(calibration.bias, true_bias, atol=0.15)
    np.testing.assert_allclose(calibration.scale, 1.0, atol=0.1)
    assert log_loss(calibration, pairs) < log_loss(ClassCalibration.identity(3), pairs) - 0.01


def test_penalty_pulls_per_class_offsets_together():
    rng = np.random.RandomState(1)
    pairs = synthetic(rng, 4000, np.array([0.0, 1.5, -1.0]))
    loose, tight = fit(pairs, 3, 1e-6, False), fit(pairs, 3, 1.0, False)
    assert np.ptp(tight.bias) < 0.1 * np.ptp(loose.bias)


def test_split_form_weighs_the_residual_apart_and_applies_alike_in_numpy_and_torch():
    rng = np.random.RandomState(2)
    n = 20000
    base = rng.randn(n) * 2
    residual = rng.randn(n)
    true = base + 0.2 * np.maximum(residual, 0) + 1.0 * np.minimum(residual, 0)
    right = (rng.rand(n) < 1 / (1 + np.exp(-true))).astype(float)
    pairs = LabelledPairs(base + residual, np.zeros(n, np.int64), right, base)
    calibration = fit(pairs, 1, l2=1e-6, form="split")
    assert calibration.form == "split"
    assert abs(calibration.w_up - 0.2) < 0.1 and abs(calibration.w_down - 1.0) < 0.1
    maps = rng.randn(2, 5, 1)
    bases = maps - np.abs(rng.randn(2, 5, 1))
    numpy_out = calibration.apply(maps, bases)
    torch_out = calibration.apply(torch.from_numpy(maps), torch.from_numpy(bases)).numpy()
    np.testing.assert_allclose(numpy_out, torch_out, rtol=1e-12)
    flat = LabelledPairs(maps.ravel(), np.zeros(10, np.int64), np.zeros(10), bases.ravel())
    np.testing.assert_allclose(pair_logits(calibration, flat), numpy_out.ravel(), rtol=1e-12)
    with pytest.raises(ValueError, match="base"):
        calibration.apply(maps)


def test_final_form_keeps_each_class_ranking():
    calibration = ClassCalibration(np.array([0.5, 2.0]), np.array([3.0, -1.0]))
    logits = np.random.RandomState(3).randn(50, 2)
    out = calibration.apply(logits)
    for c in range(2):
        np.testing.assert_array_equal(np.argsort(logits[:, c]), np.argsort(out[:, c]))


def test_fit_rejects_an_unknown_form():
    pairs = LabelledPairs(np.zeros(2), np.zeros(2, np.int64), np.array([0.0, 1.0]), np.zeros(2))
    with pytest.raises(ValueError, match="form"):
        fit(pairs, 1, 1e-3, form="other")
