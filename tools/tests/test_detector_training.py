"""Detector training pieces: feature cache round trip, the training sampling core, Hungarian matching on a
hand case, the set loss, a few optimisation steps, and a resumed run equal to an uninterrupted one."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from webdetr_tools.models.ms_deform_attn import grid_sample_core
from webdetr_tools.training.boxes import generalized_box_iou
from webdetr_tools.training.detector import build_detector, forward_layers, matmul_core
from webdetr_tools.training.features import FeatureCache, build_cache, flip_boxes, preprocess
from webdetr_tools.training.losses import set_loss, sigmoid_focal_loss
from webdetr_tools.training.loop import train
from webdetr_tools.training.matcher import cost_matrix, hungarian_match
from webdetr_tools.training.targets import normalized_target

from tiny_backbone import LOSS, TinyBackbone

TINY = dict(
    hidden_dim=32,
    nheads=2,
    enc_layers=1,
    dec_layers=2,
    dim_feedforward=64,
    num_queries=6,
    num_feature_levels=3,
    enc_n_points=2,
    dec_n_points=2,
)


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    data = root / "data" / "unlabeled"
    data.mkdir(parents=True)
    rng = np.random.RandomState(0)
    sizes = [(80, 60), (64, 64), (50, 90)]
    for k, (w, h) in enumerate(sizes):
        Image.fromarray(rng.randint(0, 256, (h, w, 3), dtype=np.uint8)).save(data / f"img{k}.png")
    (data / "broken.jpg").write_bytes(b"not a jpeg")
    backbone = TinyBackbone().eval()
    with pytest.warns(UserWarning, match="undecodable"):
        build_cache(
            root / "data", root / "features", None, size=64, sets=("unlabeled",), log=lambda m: None, backbone=backbone
        )
    return root, backbone, sizes


def test_feature_cache_round_trip(tiny_cache):
    root, backbone, sizes = tiny_cache
    cache = FeatureCache(root / "features", 64)
    index = cache.index("unlabeled")
    assert cache.sets() == ["unlabeled"] and index["skipped"] == ["broken.jpg"]
    assert [(i["id"], i["width"], i["height"], i["split"]) for i in index["images"]] == [
        (f"img{k}", w, h, "train") for k, (w, h) in enumerate(sizes)
    ]
    assert index["channels"] == [4, 6, 8]
    rgb = np.asarray(Image.open(root / "data" / "unlabeled" / "img2.png").convert("RGB"))
    with torch.no_grad():
        expected = backbone(preprocess(rgb, 64))
        expected_flip = backbone(preprocess(rgb, 64).flip(-1))
    for got, want in zip(cache.features("unlabeled", "img2"), expected):
        assert got.shape == want[0].shape and got.dtype == torch.float32
        assert (got - want[0]).abs().max() <= 2e-3 * want.abs().max()  # fp16 storage
    for got, want in zip(cache.features("unlabeled", "img2", flip=True), expected_flip):
        assert (got - want[0]).abs().max() <= 2e-3 * want.abs().max()
    batch = cache.batch([("unlabeled", "img0", False), ("unlabeled", "img2", True)])
    assert [tuple(t.shape) for t in batch] == [(2, 4, 8, 8), (2, 6, 4, 4), (2, 8, 2, 2)]
    # a second build leaves a complete set alone
    messages = []
    build_cache(
        root / "data", root / "features", None, size=64, sets=("unlabeled",), log=messages.append, backbone=backbone
    )
    assert messages and "cached already" in messages[0]


def test_flipped_targets_mirror_boxes():
    boxes = np.array([[10, 5, 30, 25]], np.float32)
    assert flip_boxes(boxes, 100).tolist() == [[70, 5, 90, 25]]
    t = normalized_target(boxes, [3], 100, 50, flip=True)
    assert torch.allclose(t["boxes"], torch.tensor([[0.8, 0.3, 0.2, 0.4]]))
    assert t["labels"].tolist() == [3]


def test_matmul_core_equals_grid_sample_core():
    torch.manual_seed(1)
    shapes = [(6, 5), (3, 3), (2, 1)]
    s = sum(h * w for h, w in shapes)
    value = torch.randn(2, s, 2, 4, requires_grad=True)
    ref = torch.rand(2, 7, 3, 4)  # box references: the decoder's case
    offsets = torch.randn(2, 7, 2, 3, 2, 2, requires_grad=True)
    logits = torch.randn(2, 7, 2, 6, requires_grad=True)
    a = grid_sample_core(value, ref, offsets, logits, shapes)
    b = matmul_core(value, ref, offsets, logits, shapes)
    assert (a - b).abs().max() < 1e-5
    ga = torch.autograd.grad(a.square().sum(), (value, offsets, logits))
    gb = torch.autograd.grad(b.square().sum(), (value, offsets, logits))
    for x, y in zip(ga, gb):
        assert (x - y).abs().max() < 1e-4


def test_hungarian_match_hand_case():
    # query 0 sits on target 1, query 2 on target 0, query 1 is far from both
    boxes = torch.tensor([[[0.7, 0.7, 0.2, 0.2], [0.1, 0.9, 0.05, 0.05], [0.3, 0.3, 0.2, 0.2]]])
    logits = torch.full((1, 3, 2), -3.0)
    logits[0, 0, 1] = logits[0, 2, 0] = 3.0
    targets = [{"labels": torch.tensor([0, 1]), "boxes": torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]])}]
    ((pred, tgt),) = hungarian_match(logits, boxes, targets)
    assert pred.tolist() == [0, 2] and tgt.tolist() == [1, 0]
    # one entry by hand: query 1 vs target 0 (class 0, logit -3)
    p = 1 / (1 + math.exp(3.0))
    pos = 0.25 * (1 - p) ** 2 * -math.log(p + 1e-8)
    neg = 0.75 * p**2 * -math.log(1 - p + 1e-8)
    l1 = 0.2 + 0.6 + 0.15 + 0.15
    # boxes [0.075,0.875,0.125,0.925] vs [0.2,0.2,0.4,0.4]: disjoint, enclosing [0.075,0.2,0.4,0.925]
    union = 0.05 * 0.05 + 0.2 * 0.2
    enclosing = (0.4 - 0.075) * (0.925 - 0.2)
    giou = 0 - (enclosing - union) / enclosing
    expected = 5 * l1 + 2 * (pos - neg) - 2 * giou
    c = cost_matrix(logits[0], boxes[0], targets[0]["labels"], targets[0]["boxes"])
    assert abs(c[1, 0].item() - expected) < 1e-5


def test_generalized_iou_identical_and_disjoint():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 1.0]])
    assert torch.allclose(generalized_box_iou(a, b), torch.tensor([[1.0, -1.0 / 3.0]]))


def test_focal_loss_matches_definition():
    # [B=1, Q=2, C=2]: mean over queries, sum over classes and images, / num_boxes (the official reduction)
    logits = torch.tensor([[[2.0, -1.0], [0.5, 0.0]]])
    target = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    p = torch.sigmoid(logits)[0]

    def term(prob, positive):
        return 0.25 * (1 - prob) ** 2 * -torch.log(prob) if positive else 0.75 * prob**2 * -torch.log(1 - prob)

    expected = (term(p[0, 0], True) + term(p[0, 1], False) + term(p[1, 0], False) + term(p[1, 1], False)) / 2 / 4.0
    assert torch.allclose(sigmoid_focal_loss(logits, target, 4.0), expected)


def _tiny_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    features = [torch.randn(2, c, s, s, generator=g) for c, s in ((4, 8), (6, 4), (8, 2))]
    targets = [
        {"labels": torch.tensor([0, 2]), "boxes": torch.tensor([[0.3, 0.3, 0.2, 0.3], [0.7, 0.6, 0.3, 0.2]])},
        {"labels": torch.zeros(0, dtype=torch.int64), "boxes": torch.zeros(0, 4)},
    ]
    return features, targets


def test_set_loss_is_finite_with_and_without_targets():
    model = build_detector(TINY, 3, [4, 6, 8], seed=0)
    features, targets = _tiny_batch()
    layers = forward_layers(model, features)
    assert len(layers) == TINY["dec_layers"]
    loss, parts = set_loss(layers, targets, LOSS)
    assert math.isfinite(loss.item()) and set(parts) == {"loss", "loss_ce", "loss_bbox", "loss_giou"}
    empty = [targets[1], targets[1]]
    loss_empty, _ = set_loss(layers, empty, LOSS)
    assert math.isfinite(loss_empty.item()) and loss_empty.item() > 0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_training_steps_decrease_the_loss():
    torch.manual_seed(0)
    model = build_detector(TINY, 3, [4, 6, 8], seed=0).train()
    features, targets = _tiny_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss, _ = set_loss(forward_layers(model, features), targets, LOSS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.95, losses


class _FixedLabels:
    classes = ["a", "b", "c"]

    def target(self, item, flip=False):
        boxes = np.array([[item.width * 0.2, item.height * 0.3, item.width * 0.6, item.height * 0.9]])
        return normalized_target(boxes, [len(item.image_id) % 3], item.width, item.height, flip)


def test_resumed_run_equals_uninterrupted_run(tiny_cache, tmp_path):
    root, _, _ = tiny_cache
    config = dict(
        seed=3,
        feature_size=64,
        classes=_FixedLabels.classes,
        model=TINY,
        loss=LOSS,
        data=dict(sets=["unlabeled"], flip_probability=0.5, pseudo_label_threshold=0.25),
        optim=dict(
            lr=1e-3,
            lr_linear_proj_mult=0.1,
            weight_decay=1e-4,
            clip_max_norm=0.1,
            batch_size=2,
            epochs=5,
            lr_drop_epoch=1,
        ),
        train=dict(threads=1, checkpoint_every_steps=1, log_every_steps=1, eval_every_epochs=0),
    )
    cache = FeatureCache(root / "features", 64)
    kwargs = dict(
        data_root=None, cache_root=None, labels_dir=None, log=lambda m: None, cache=cache, labels=_FixedLabels()
    )
    straight = train(json.loads(json.dumps(config)), run_dir=tmp_path / "a", max_steps=4, **kwargs)
    train(json.loads(json.dumps(config)), run_dir=tmp_path / "b", max_steps=3, **kwargs)
    resumed = train(json.loads(json.dumps(config)), run_dir=tmp_path / "b", max_steps=1, **kwargs)
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    assert torch.load(tmp_path / "b" / "checkpoint.pt")["step"] == 4


def test_label_sources_ground_truth_plus_teacher(shared_dir, tmp_path):
    from webdetr_tools.teacher.coco80 import COCO80_NAMES
    from webdetr_tools.training.features import set_samples
    from webdetr_tools.training.targets import Item, LabelSource

    image_id, _, sample, split = set_samples(shared_dir / "data", "pennfudan")[0]
    gt = sample.boxes[0].tolist()
    person, car, fork = (COCO80_NAMES.index(n) for n in ("person", "car", "fork"))
    rows = [
        gt[:2] + [gt[2] + 1, gt[3]] + [0.9, person],  # the annotated pedestrian again: dropped
        [0, 0, 20, 20, 0.8, person],  # a person nobody annotated: kept
        [30, 30, 60, 50, 0.7, car],  # kept
        [30, 30, 60, 50, 0.2, car],  # under the threshold
        [5, 5, 9, 9, 0.9, fork],
    ]  # not one of the classes
    (tmp_path / "pennfudan.json").write_text(json.dumps({"images": {image_id: rows}}))
    config = dict(
        classes=["person", "car"],
        data=dict(pseudo_label_threshold=0.25, ground_truth_sets=[], ground_truth_plus_teacher_sets=["pennfudan"]),
    )
    source = LabelSource(shared_dir / "data", tmp_path, config)
    item = Item("pennfudan", image_id, sample.width, sample.height, split)
    boxes, labels = source.boxes_xyxy(item)
    assert labels.tolist() == [0] * len(sample.boxes) + [0, 1]
    assert np.allclose(boxes[: len(sample.boxes)], sample.boxes)
    assert np.allclose(boxes[-2:], [[0, 0, 20, 20], [30, 30, 60, 50]])
    teacher_boxes, teacher_labels, scores = source.teacher_boxes(item)
    assert teacher_labels.tolist() == [0, 0, 1] and scores.tolist() == [0.9, 0.8, 0.7]
    target = source.target(item, flip=True)
    assert target["boxes"].shape == (len(labels), 4) and (target["boxes"] >= 0).all()


def test_soft_focal_loss_equals_focal_on_hard_targets_and_is_lowest_at_the_target():
    from webdetr_tools.training.losses import sigmoid_focal_loss

    logits = torch.linspace(-4, 4, 24).reshape(1, 3, 8)
    hard = (torch.rand(1, 3, 8, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    assert torch.allclose(sigmoid_focal_loss(logits, hard, 1.0), sigmoid_focal_loss(logits, hard, 1.0, soft=True))
    target = torch.full((1, 1, 1), 0.4)
    grid = torch.linspace(-3, 3, 601).reshape(1, -1, 1)
    losses = torch.stack([sigmoid_focal_loss(g.reshape(1, 1, 1), target, 1.0, soft=True) for g in grid.flatten()])
    best = torch.sigmoid(grid.flatten()[int(losses.argmin())])
    assert abs(float(best) - 0.4) < 0.01


def test_onehot_class_targets_give_the_hard_loss_and_a_second_class_changes_it():
    """set_loss with 'class_targets' [G,C]: all-1 onehot rows equal the hard focal loss; mass on another class
    (a distilled pseudo-box) is a target for that class's logit too."""
    model = build_detector(TINY, 3, [4, 6, 8], seed=0)
    features, targets = _tiny_batch()
    layers = forward_layers(model, features)
    hard, _ = set_loss(layers, targets, LOSS)
    onehot = [{**t, "class_targets": torch.eye(3)[t["labels"]].reshape(-1, 3)} for t in targets]
    assert torch.allclose(set_loss(layers, onehot, LOSS)[0], hard)
    blended = [dict(t) for t in onehot]
    blended[0]["class_targets"] = torch.tensor([[0.5, 0.4, 0.0], [0.0, 0.0, 1.0]])
    assert not torch.allclose(set_loss(layers, blended, LOSS)[0], hard)


def test_class_head_learning_rate_multiplier_adds_a_group_only_when_set():
    from webdetr_tools.training.loop import _optimizer

    model = build_detector(TINY, 3, [4, 6, 8], seed=0)
    optim = {"lr": 1e-4, "lr_linear_proj_mult": 0.1, "weight_decay": 1e-4}
    assert [g["lr"] for g in _optimizer(model, optim).param_groups] == pytest.approx([1e-4, 1e-5])
    groups = _optimizer(model, {**optim, "lr_class_head_mult": 10}).param_groups
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-5, 1e-3])
    heads = {id(p) for n, p in model.named_parameters() if "class_embed" in n}
    assert heads and {id(p) for p in groups[2]["params"]} == heads
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
