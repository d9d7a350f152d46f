"""RoI patch descriptors (oneshot/patches.py roi_descriptors): torchvision's roi_align (aligned=True, one
sample per bin) averaged per tap, for boxes anywhere including the image's edges; the box jitter stays in
the image; train.init may change only weight-neutral model-config keys (and turn on patch_scale_input, whose
weights start at zero); the patch sizes reach the queries with patch_scale_input; the score calibration's labels
follow the one-shot protocol's matching and its logistic fit recovers known weights."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.ops import roi_align

from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR
from webdetr_tools.oneshot.patches import jitter_boxes, roi_descriptors


def _levels():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, c, h, w, generator=g) for c, h, w in ((3, 16, 12), (4, 8, 6), (5, 4, 3))]


BOXES = torch.tensor(
    [
        [[0.0, 0.0, 1.0, 1.0], [0.1, 0.2, 0.35, 0.9], [0.0, 0.0, 0.05, 0.04]],
        [[0.9, 0.95, 1.0, 1.0], [0.3, 0.3, 0.31, 0.32], [0.5, 0.0, 0.75, 0.2]],
    ]
)


@pytest.mark.parametrize("samples", [1, 4, 8])
def test_equals_torchvision_roi_align_averaged(samples):
    levels = _levels()
    ours = roi_descriptors(levels, BOXES, samples)
    assert ours.shape == (2, 3, 3 + 4 + 5)
    parts = []
    for level in levels:
        h, w = level.shape[2:]
        rois = [b * torch.tensor([w, h, w, h], dtype=torch.float32) for b in BOXES]  # per-image boxes in cells
        pooled = roi_align(level, rois, output_size=samples, spatial_scale=1.0, sampling_ratio=1, aligned=True)
        parts.append(pooled.mean(dim=(2, 3)).view(2, 3, -1))
    torch.testing.assert_close(ours, torch.cat(parts, -1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("samples", [1, 3, 8])
def test_equals_the_mean_of_grid_sample_border_samples(samples):
    # the sample points as torch grid_sample takes them (roi_grid), boxes anywhere, some past the image's edges
    from torch.nn.functional import grid_sample
    from webdetr_tools.oneshot.patches import roi_grid

    levels = _levels()
    boxes = torch.cat([BOXES, torch.tensor([[[-0.2, 0.5, 0.1, 1.3]], [[0.7, -0.1, 1.2, 0.05]]])], 1)
    want = torch.cat(
        [
            grid_sample(level, roi_grid(boxes, samples), mode="bilinear", padding_mode="border", align_corners=False)
            .view(2, level.shape[1], 4, samples * samples)
            .mean(-1)
            for level in levels
        ],
        1,
    )
    torch.testing.assert_close(roi_descriptors(levels, boxes, samples, channels_last=False), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(roi_descriptors(levels, boxes, samples), want.transpose(1, 2), atol=1e-5, rtol=1e-5)


def test_a_constant_map_gives_its_value_for_any_box():
    levels = [torch.full((1, 2, 5, 7), 3.0)]
    boxes = torch.tensor([[[0.0, 0.0, 0.01, 0.01], [0.99, 0.0, 1.0, 1.0], [0.2, 0.3, 0.4, 0.5]]])
    torch.testing.assert_close(roi_descriptors(levels, boxes), torch.full((1, 3, 2), 3.0))


def test_boxes_of_a_batch_read_their_own_image():
    levels = _levels()
    both = roi_descriptors(levels, BOXES)
    for b in range(2):
        alone = roi_descriptors([level[b : b + 1] for level in levels], BOXES[b : b + 1])
        torch.testing.assert_close(both[b : b + 1], alone)


def test_jitter_keeps_boxes_inside_and_non_empty():
    rng = np.random.RandomState(0)
    boxes = np.array([[0, 0, 10, 10], [90, 70, 100, 80], [40, 30, 41, 31]], float)
    for _ in range(200):
        out = jitter_boxes(rng, boxes, 0.3, 100, 80)
        assert (out[:, [0, 2]] >= 0).all() and (out[:, [0, 2]] <= 100).all()
        assert (out[:, [1, 3]] >= 0).all() and (out[:, [1, 3]] <= 80).all()
        assert (out[:, 2] > out[:, 0]).all() and (out[:, 3] > out[:, 1]).all()
    np.testing.assert_array_equal(jitter_boxes(rng, boxes, 0.0, 100, 80), boxes)


def test_patch_descriptor_is_checked():
    assert OneShotConfig.from_dict({"patch_descriptor": "roi"}).patch_descriptor == "roi"
    with pytest.raises(ValueError, match="patch_descriptor"):
        OneShotConfig.from_dict({"patch_descriptor": "pixels"})


def test_init_may_change_only_weight_neutral_keys():
    from webdetr_tools.oneshot import init_checkpoint

    crop = OneShotConfig().to_dict()
    del crop["patch_descriptor"], crop["roi_samples"]  # a checkpoint from before the keys existed
    changed = init_checkpoint.init_config_changes(crop, OneShotConfig.from_dict({"patch_descriptor": "roi"}))
    assert changed == {"patch_descriptor": ("crop", "roi")}
    larger = init_checkpoint.init_config_changes(
        OneShotConfig().to_dict(), OneShotConfig.from_dict({"image_size": 416})
    )
    assert larger == {"image_size": (320, 416)}  # a fine-tune at another input size starts from the same weights
    with pytest.raises(SystemExit, match="d_model"):
        init_checkpoint.init_config_changes(crop, OneShotConfig.from_dict({"d_model": 64}))


def test_match_labels_follow_the_protocols_greedy_matching_and_ignore_rule():
    from webdetr_tools.oneshot.calibration import match_labels

    targets = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 61], [80, 80, 90, 90]], float)
    logits = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    keep, labels = match_labels(boxes, logits, targets)
    assert labels.tolist() == [1, 0, 0, 1, 0] and keep.all()  # the second box on target 0 is a duplicate
    keep, labels = match_labels(boxes, logits, targets[1:], query_box=(20, 20, 30, 30))
    assert keep.tolist() == [True, True, False, True, True]  # unmatched on the query box: left out
    assert labels.tolist() == [0, 0, 0, 1, 0]


def test_fit_logistic_recovers_the_weights_of_a_logistic_model():
    from webdetr_tools.oneshot.calibration import fit_logistic

    rng = np.random.RandomState(0)
    x = rng.normal(size=(20000, 2))
    truth = np.array([1.5, -2.0, 0.5])
    labels = (rng.uniform(size=20000) < 1 / (1 + np.exp(-(x @ truth[:2] + truth[2])))).astype(float)
    fitted = fit_logistic(x, labels, np.ones(20000), l2=0.0)
    np.testing.assert_allclose(fitted, truth, atol=0.1)
    np.testing.assert_array_equal(fitted, fit_logistic(x, labels, np.ones(20000), l2=0.0))  # deterministic


def test_calibration_needs_roi_patches_and_one_weight_per_input():
    OneShotConfig.from_dict({"patch_descriptor": "roi", "score_calibration": [1, 0, 0, 0, 0]})
    with pytest.raises(ValueError, match="score_calibration"):
        OneShotConfig.from_dict({"score_calibration": [1, 0, 0, 0, 0]})
    with pytest.raises(ValueError, match="score_calibration"):
        OneShotConfig.from_dict({"patch_descriptor": "roi", "score_calibration": [1, 0]})


def test_calibration_overlap_adds_one_weight():
    OneShotConfig.from_dict(
        {"patch_descriptor": "roi", "calibration_overlap": True, "score_calibration": [1, 0, 0, 0, 0, 0]}
    )
    with pytest.raises(ValueError, match="overlap"):
        OneShotConfig.from_dict(
            {"patch_descriptor": "roi", "calibration_overlap": True, "score_calibration": [1, 0, 0, 0, 0]}
        )


def test_duplicate_overlap_is_the_iou_with_a_stronger_box_of_the_same_patch():
    from webdetr_tools.oneshot.model import box_cxcywh_to_xyxy, duplicate_overlap

    # two patches of 3 boxes (cxcywh): patch 0 holds a box and its near-copy; patch 1 the same boxes in another order
    boxes = torch.tensor(
        [
            [
                [0.3, 0.3, 0.2, 0.2],
                [0.32, 0.3, 0.2, 0.2],
                [0.8, 0.8, 0.1, 0.1],
                [0.32, 0.3, 0.2, 0.2],
                [0.8, 0.8, 0.1, 0.1],
                [0.3, 0.3, 0.2, 0.2],
            ]
        ]
    )
    logits = torch.tensor([[[2.0], [1.0], [3.0], [2.0], [1.0], [0.5]]])
    copy_iou = (0.18 * 0.2) / (2 * 0.04 - 0.18 * 0.2)  # the near-copy shifted by 0.02 of a 0.2-wide box
    want = [0.0, copy_iou, 0.0, 0.0, 0.0, copy_iou]  # the strongest of a group and boxes overlapping no stronger: 0
    # box 4 equals patch 0's stronger box 2 (IoU 1) but belongs to patch 1, where no stronger box overlaps it: 0
    np.testing.assert_allclose(
        duplicate_overlap(logits, box_cxcywh_to_xyxy(boxes), 3)[0, :, 0].numpy(), want, atol=1e-6
    )


def _small_config(**changes):
    return OneShotConfig.from_dict(
        dict(
            {
                "channels": [8, 8, 8],
                "d_model": 32,
                "nheads": 4,
                "enc_layers": 1,
                "dec_layers": 2,
                "dim_feedforward": 32,
                "queries_per_patch": 3,
                "patch_descriptor": "roi",
            },
            **changes,
        )
    )


def test_patch_scale_input_starts_at_zero_then_tells_sizes_apart_and_needs_the_boxes():
    with pytest.raises(ValueError, match="patch_scale_input"):
        OneShotConfig.from_dict({"patch_scale_input": True})  # crop patches have no boxes input
    torch.manual_seed(0)
    plain, sized = OneShotDETR(_small_config()).eval(), OneShotDETR(_small_config(patch_scale_input=True)).eval()
    # away from the initialisation's zeros (the box head's last layer), so boxes depend on queries
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.1 * torch.randn_like(p))
    sized.load_state_dict(plain.state_dict(), strict=False)
    levels = [torch.rand(1, 8, s, s) for s in (8, 4, 2)]
    memory, shapes = plain.encode(levels), plain.spatial_shapes(levels)
    desc = torch.rand(1, 2, 24)
    desc[:, 1] = desc[:, 0]  # one descriptor, two boxes: a small one and a large one
    boxes = torch.tensor([[[0.1, 0.1, 0.13, 0.12], [0.1, 0.1, 0.6, 0.5]]])
    with torch.no_grad():
        want = plain.decode(memory, shapes, desc)
        got = sized.decode(memory, shapes, desc, boxes)
        assert all(torch.equal(a, b) for a, b in zip(want, got))  # zero-initialised: the same model
        with pytest.raises(ValueError, match="patch_boxes"):
            sized.decode(memory, shapes, desc)
        sized.patch_scale.weight.normal_()
        logits, out = sized.decode(memory, shapes, desc, boxes)
        assert (out[-1, 0, :3] - out[-1, 0, 3:]).abs().max() > 1e-3  # the same descriptor, answered per size
        zero = sized.decode(memory, shapes, desc, torch.zeros(1, 2, 4))  # zero-size patches stay finite
        assert all(torch.isfinite(t).all() for t in zero)


def test_box_size_prior_starts_fresh_heads_at_the_patch_size_and_shifts_trained_ones_by_its_logit():
    from webdetr_tools.models.deformable_transformer import inverse_sigmoid

    with pytest.raises(ValueError, match="box_size_prior"):
        OneShotConfig.from_dict({"box_size_prior": True})  # crop patches have no boxes input
    torch.manual_seed(0)
    levels = [torch.rand(1, 8, s, s) for s in (8, 4, 2)]
    desc = torch.rand(1, 2, 24)
    boxes = torch.tensor([[[0.1, 0.1, 0.13, 0.12], [0.1, 0.1, 0.6, 0.5]]])  # 0.03 x 0.02 and 0.5 x 0.4
    fresh = OneShotDETR(_small_config(box_size_prior=True)).eval()
    with torch.no_grad():
        memory, shapes = fresh.encode(levels), fresh.spatial_shapes(levels)
        _, out = fresh.decode(memory, shapes, desc, boxes)
        # the box head's last layer starts at zero weights, bias -2: every slot draws its patch's size
        want = (boxes[0, :, 2:] - boxes[0, :, :2]).repeat_interleave(3, dim=0)
        torch.testing.assert_close(out[:, 0, :, 2:], want.expand_as(out[:, 0, :, 2:]), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="patch_boxes"):
            fresh.decode(memory, shapes, desc)
        trained, prior = OneShotDETR(_small_config()).eval(), OneShotDETR(_small_config(box_size_prior=True)).eval()
        for p in trained.parameters():
            p.add_(0.1 * torch.randn_like(p))
        prior.load_state_dict(trained.state_dict())  # no parameter of its own
        _, plain_boxes = trained.decode(memory, shapes, desc)
        _, prior_boxes = prior.decode(memory, shapes, desc, boxes)
        torch.testing.assert_close(prior_boxes[..., :2], plain_boxes[..., :2])  # centres as before
        shift = (inverse_sigmoid(want) + 2.0)[None, None]  # size logits moved by logit(patch side) + 2
        torch.testing.assert_close(
            inverse_sigmoid(prior_boxes[..., 2:]), inverse_sigmoid(plain_boxes[..., 2:]) + shift, rtol=1e-4, atol=1e-4
        )


def test_init_may_turn_on_patch_scale_input_and_keeps_its_zero_weights():
    from webdetr_tools.oneshot import init_checkpoint

    torch.manual_seed(0)
    before = OneShotDETR(_small_config())
    with torch.no_grad():
        for p in before.parameters():
            p.add_(1.0)
    after = _small_config(patch_scale_input=True)
    changed = init_checkpoint.init_config_changes(before.config.to_dict(), after)
    assert changed == {"patch_scale_input": (False, True)}
    model = OneShotDETR(after)
    init_checkpoint.load_init_state(model, {k: v.half() for k, v in before.state_dict().items()}, changed)
    assert torch.equal(model.patch2query.weight, before.patch2query.weight.half().float())
    assert not model.patch_scale.weight.any() and not model.patch_scale.bias.any()
    with pytest.raises(SystemExit, match="patch_scale_input"):  # turning it off would drop trained weights
        init_checkpoint.init_config_changes(after.to_dict(), before.config)
    with pytest.raises(SystemExit, match="missing"):  # without the change recorded, the new weights are missing
        init_checkpoint.load_init_state(OneShotDETR(after), before.state_dict(), {})


def test_calibration_scale_adds_one_weight_and_needs_the_patch_boxes():
    both = {"patch_descriptor": "roi", "calibration_overlap": True, "calibration_scale": True}
    config = OneShotConfig.from_dict(dict(both, score_calibration=[1, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="scale"):
        OneShotConfig.from_dict(dict(both, score_calibration=[1, 0, 0, 0, 0, 0]))
    model = OneShotDETR(config).eval()
    levels = [torch.rand(1, c, 4, 4) for c in config.channels]
    desc = torch.rand(1, 1, sum(config.channels))
    g = config.queries_per_patch
    with pytest.raises(ValueError, match="patch_boxes"):
        model.calibration_inputs(levels, desc, torch.zeros(1, g, 1), torch.full((1, g, 4), 0.5))


def test_scale_difference_is_the_absolute_log_area_ratio_to_the_patch():
    from webdetr_tools.oneshot.model import scale_difference

    # two patches of 2 boxes: patch 0 is 0.2 x 0.2 (area 0.04), patch 1 is 0.1 x 0.4 (area 0.04 too)
    patch_boxes = torch.tensor([[[0.1, 0.1, 0.3, 0.3], [0.5, 0.2, 0.6, 0.6]]])
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.4, 0.4], [0.5, 0.5, 0.1, 0.1], [0.5, 0.5, 0.0, 0.3]]])
    want = [0.0, math.log(4.0), math.log(4.0), math.log(0.04 / 1e-6)]  # same, 4x larger, 4x smaller, empty (floored)
    np.testing.assert_allclose(scale_difference(boxes, patch_boxes, 2)[0, :, 0].numpy(), want, rtol=1e-5, atol=1e-6)


def test_model_detector_reads_the_cache_and_returns_ranked_clamped_pixel_boxes():
    from webdetr_tools.data.datasets import Sample
    from webdetr_tools.evaluation.oneshot_ap import OneShotQuery
    from webdetr_tools.oneshot.model import ModelDetector, cached_levels

    config = OneShotConfig.from_dict(
        {
            "channels": [3, 4, 5],
            "d_model": 32,
            "nheads": 2,
            "enc_layers": 1,
            "dec_layers": 1,
            "dim_feedforward": 32,
            "queries_per_patch": 6,
            "max_patches": 1,
            "patch_descriptor": "roi",
        }
    )
    torch.manual_seed(0)
    model = OneShotDETR(config).eval()
    taps = _levels()  # two images' taps, as the features cache holds them (no batch axis)

    class Cache:
        def __init__(self):
            self.read = []

        def features(self, name, image_id):
            self.read.append((name, image_id))
            return [t[int(image_id[-1])] for t in taps]

    cache = Cache()
    samples = [Sample(Path("a.jpg"), 200, 100), Sample(Path("b.jpg"), 50, 80)]
    detector = ModelDetector(model, None, samples, cached_levels(cache, "set", ["img0", "img1"]), max_detections=4)
    results = detector(OneShotQuery(0, 0, (10.0, 20.0, 90.0, 60.0), "thing"), [0, 1])
    assert {("set", "img0"), ("set", "img1")} <= set(cache.read)
    for (boxes, scores), sample in zip(results, samples):
        assert boxes.shape == (4, 4) and scores.shape == (4,)
        assert np.all(np.diff(scores) <= 0)  # best first
        assert (
            boxes.min() >= 0 and np.all(boxes[:, [0, 2]] <= sample.width) and np.all(boxes[:, [1, 3]] <= sample.height)
        )
