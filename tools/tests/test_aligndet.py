"""AlignDet pretraining pieces: proposals on a synthetic image with known rectangles, views (feature crops
and flips move boxes with the features), the box-level InfoNCE, a few pretraining steps, a resumed
pretraining run, init_from (every weight but the class head), and the comparison driver (stages, budget
check, output)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from webdetr_tools.aligndet.data import ProposalSource, make_views
from webdetr_tools.aligndet.loop import pretrain, step_loss
from webdetr_tools.aligndet.losses import info_nce, matched_pairs
from webdetr_tools.aligndet.model import AlignDetModel, forward_view
from webdetr_tools.aligndet.grouping import hierarchical_grouping
from webdetr_tools.aligndet.proposals import adjacent_pairs, propose, segment_boxes
from webdetr_tools.aligndet.views import Crop, crop_boxes, crop_levels, flip_normalized
from webdetr_tools.training.boxes import box_iou
from webdetr_tools.training.detector import build_detector, forward_layers
from webdetr_tools.training.features import FeatureCache, build_cache
from webdetr_tools.training.pretrained import load_pretrained

from tiny_backbone import LOSS as DETECTOR_LOSS, TinyBackbone

LOSS = dict(DETECTOR_LOSS, contrastive_coef=1.0, temperature=0.2, proj_dim=16)
TINY = dict(
    hidden_dim=32,
    nheads=2,
    enc_layers=1,
    dec_layers=2,
    dim_feedforward=64,
    num_queries=8,
    num_feature_levels=3,
    enc_n_points=2,
    dec_n_points=2,
)
VIEWS = dict(flip_probability=0.5, min_crop=0.6, min_visible=0.5, min_box_side=0.02)


# --- proposals ---------------------------------------------------------------------------------------


def test_segment_boxes_and_adjacency_hand_case():
    labels = np.array([[0, 0, 1], [0, 2, 1], [2, 2, 1]])
    boxes, counts = segment_boxes(labels)
    assert boxes.tolist() == [[0, 0, 2, 2], [2, 0, 3, 3], [0, 1, 2, 3]] and counts.tolist() == [3, 3, 3]
    assert adjacent_pairs(labels).tolist() == [[0, 1], [0, 2], [1, 2]]


def test_hierarchical_grouping_merges_the_most_similar_neighbours_first():
    # four vertical stripes: 0 red, 1 red, 2 blue, 3 green; 0-1 are alike (colour 1, fill 1), so they merge first
    labels = np.repeat(np.arange(4), 5)[None].repeat(6, 0)
    image = np.zeros((6, 20, 3), np.uint8)
    for k, colour in enumerate([(200, 0, 0), (205, 0, 0), (0, 0, 200), (0, 200, 0)]):
        image[:, 5 * k : 5 * k + 5] = colour
    boxes, rank = hierarchical_grouping(image, labels, np.random.RandomState(0))
    assert len(boxes) == 7 and boxes[:4].tolist() == [[5 * k, 0, 5 * k + 5, 6] for k in range(4)]
    assert boxes[4].tolist() == [0, 0, 10, 6] and boxes[6].tolist() == [0, 0, 20, 6]
    # rank = (7 - creation index) x U(0, 1): the whole image draws from the smallest range
    numbers = 7 - np.arange(7)
    assert np.allclose(rank, numbers * np.random.RandomState(0).random_sample(7))


@pytest.mark.parametrize("grouping", ["hierarchy", "pairs"])
def test_proposals_recover_synthetic_rectangles(grouping):
    rng = np.random.RandomState(0)
    image = np.full((480, 640, 3), 120, np.float32) + rng.normal(0, 3, (480, 640, 3))
    rects = [(40, 60, 200, 220), (300, 100, 560, 180), (420, 300, 520, 440)]  # x0, y0, x1, y1 px
    for (x0, y0, x1, y1), colour in zip(rects, [(230, 30, 30), (20, 200, 40), (30, 40, 220)]):
        image[y0:y1, x0:x1] = np.array(colour) + rng.normal(0, 3, (y1 - y0, x1 - x0, 3))
    boxes, scores = propose(np.clip(image, 0, 255).astype(np.uint8), grouping=grouping)
    assert len(boxes) <= 40 and (np.diff(scores) <= 1e-6).all()
    iou = box_iou(torch.tensor(rects, dtype=torch.float32), torch.from_numpy(boxes))[0]
    best = boxes[iou.argmax(1).numpy()]
    # every rectangle is proposed to within 2 px of the 320-px image (4 source px): the resize and the
    # segmentation's Gaussian smoothing blend the border pixels, which may join the background
    assert np.abs(best - np.array(rects)).max() <= 4.0, best
    assert (iou.max(1).values >= 0.85).all(), iou.max(1).values
    # the background's box (the whole image) is filtered by max_area
    assert not ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0.9 * 640 * 480).any()


# --- views -------------------------------------------------------------------------------------------


def test_crop_levels_cut_every_stride_at_cell_borders():
    levels = [torch.arange(c * s * s, dtype=torch.float32).view(c, s, s) for c, s in ((2, 40), (3, 20), (4, 10))]
    crop = Crop(2, 3, 5, 6, 10, 10)
    out = crop_levels(levels, crop)
    assert [tuple(t.shape) for t in out] == [(2, 24, 20), (3, 12, 10), (4, 6, 5)]
    assert torch.equal(out[0], levels[0][:, 12:36, 8:28]) and torch.equal(out[2], levels[2][:, 3:9, 2:7])


def test_crop_boxes_moves_clips_and_drops():
    crop = Crop(2, 2, 5, 5, 10, 10)  # normalized (0.2, 0.2, 0.7, 0.7)
    boxes = torch.tensor(
        [
            [0.3, 0.4, 0.5, 0.6],  # inside
            [0.6, 0.6, 0.8, 0.8],  # 1/4 inside: dropped
            [0.1, 0.3, 0.4, 0.5],  # 2/3 inside: clipped
            [0.8, 0.8, 0.9, 0.9],
        ]
    )  # outside
    kept, index = crop_boxes(boxes, crop)
    assert index.tolist() == [0, 2]
    assert torch.allclose(kept, torch.tensor([[0.2, 0.4, 0.6, 0.8], [0.0, 0.2, 0.4, 0.6]]), atol=1e-6)
    assert torch.allclose(flip_normalized(torch.tensor([[0.1, 0.2, 0.3, 0.4]])), torch.tensor([[0.7, 0.2, 0.9, 0.4]]))


class _IndicatorCache:
    """A feature cache whose maps are 1 inside image k's one proposal box and 0 elsewhere (the flipped
    maps mirrored, as the real cache's are), so a view's boxes can be checked against its features."""

    size = 320

    def __init__(self, boxes):
        self.boxes = boxes  # {image_id: normalized xyxy}

    def batch(self, items):
        levels = []
        for s in (40, 20, 10):
            maps = []
            for _, image_id, flip in items:
                x0, y0, x1, y1 = (round(v * s) for v in self.boxes[image_id])
                m = torch.zeros(1, s, s)
                m[:, y0:y1, x0:x1] = 1.0
                maps.append(m.flip(-1) if flip else m)
            levels.append(torch.stack(maps))
        return levels


class _Proposals:
    def __init__(self, boxes):
        self._boxes = boxes

    def boxes(self, item):
        return torch.tensor([self._boxes[item.image_id]])


def test_views_move_boxes_with_the_features():
    from webdetr_tools.training.targets import Item

    boxes = {"a": (0.2, 0.3, 0.6, 0.5), "b": (0.5, 0.1, 0.9, 0.9), "c": (0.1, 0.6, 0.3, 0.9)}
    chunk = [Item("s", k, 100, 100, "train") for k in boxes]
    checked = 0
    for seed in range(6):
        views = make_views(_IndicatorCache(boxes), chunk, _Proposals(boxes), np.random.RandomState(seed), VIEWS)
        assert views[0]["flips"] == [not f for f in views[1]["flips"]]
        for view in views:
            level = view["features"][0]  # stride 8
            h, w = level.shape[-2:]
            for b, (kept, ids) in enumerate(zip(view["boxes"], view["ids"])):
                mass = level[b, 0]
                if len(kept) == 0:
                    continue
                x0, y0, x1, y1 = kept[0].tolist()
                inside = mass[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
                # every indicator pixel of the view lies inside the moved box, and the box is all indicator
                assert inside.sum() == mass.sum() and inside.numel() == mass.sum() > 0
                checked += 1
    assert checked >= 20


# --- losses ------------------------------------------------------------------------------------------


def test_info_nce_minimal_for_aligned_embeddings():
    torch.manual_seed(0)
    a = torch.randn(12, 16)
    aligned = info_nce(a, a * 2.0)  # same directions: the positives have the largest similarity
    shuffled = info_nce(a, a[torch.randperm(12)])
    noisy = info_nce(a, a + 0.5 * torch.randn(12, 16))
    assert aligned < noisy < shuffled
    # by hand for two orthogonal unit vectors, temperature 0.2: -log(e^5 / (e^5 + e^0))
    two = info_nce(torch.eye(2), torch.eye(2), 0.2)
    assert abs(two.item() - math.log(1 + math.exp(-5))) < 1e-6
    assert info_nce(a[:1], a[:1]).item() == 0.0


def test_matched_pairs_pair_queries_of_the_same_proposal():
    # view a: queries 3, 5 matched to targets 0, 1 = proposals 7, 2; view b: queries 1, 4 -> targets 1, 0 =
    # proposals 2, 9: only proposal 2 is in both
    pairs = matched_pairs(
        [(torch.tensor([3, 5]), torch.tensor([0, 1]))],
        [torch.tensor([7, 2])],
        [(torch.tensor([1, 4]), torch.tensor([1, 0]))],
        [torch.tensor([9, 2])],
    )
    assert [p.tolist() for p in pairs[0]] == [[5], [1]]


def _tiny_views(seed=0):
    g = torch.Generator().manual_seed(seed)
    boxes = [
        torch.tensor([[0.1, 0.1, 0.4, 0.5], [0.5, 0.5, 0.9, 0.8], [0.2, 0.6, 0.4, 0.9]]),
        torch.tensor([[0.3, 0.2, 0.7, 0.6], [0.0, 0.0, 0.3, 0.3]]),
    ]
    views = []
    for flip in (False, True):
        features = [torch.randn(2, c, s, s, generator=g) for c, s in ((4, 8), (6, 4), (8, 2))]
        b = [flip_normalized(x) if flip else x for x in boxes]
        views.append(dict(features=features, boxes=b, ids=[torch.arange(len(x)) for x in b]))
    return views


def test_pretraining_steps_reduce_the_loss():
    model = AlignDetModel(TINY, [4, 6, 8], LOSS["proj_dim"], seed=0).train()
    views = _tiny_views()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss, parts = step_loss(model, views, LOSS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert parts["pairs"] == 5 and math.isfinite(parts["loss_nce"])
    assert losses[-1] < losses[0] * 0.9, losses


def test_forward_view_equals_the_detector_forward():
    model = AlignDetModel(TINY, [4, 6, 8], seed=0).eval()
    features = _tiny_views()[0]["features"]
    layers, hs = forward_view(model.detector, features)
    for (l1, b1), (l2, b2) in zip(layers, forward_layers(model.detector, features)):
        assert torch.equal(l1, l2) and torch.equal(b1, b2)
    assert hs.shape == (2, TINY["num_queries"], TINY["hidden_dim"])


# --- pretraining run and transfer --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("aligndet")
    data = root / "data" / "unlabeled"
    data.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for k in range(5):
        Image.fromarray(rng.randint(0, 256, (60, 80, 3), dtype=np.uint8)).save(data / f"img{k}.png")
    build_cache(
        root / "data",
        root / "features",
        None,
        size=128,
        sets=("unlabeled",),
        log=lambda m: None,
        backbone=TinyBackbone().eval(),
    )
    images = {f"img{k}": [[8 * k, 5, 8 * k + 30, 40, 0.9], [40, 20, 75, 55, 0.8]] for k in range(4)}  # img4: none
    (root / "proposals").mkdir()
    (root / "proposals" / "unlabeled.json").write_text(json.dumps({"images": images}))
    config = dict(
        seed=1,
        feature_size=128,
        model=TINY,
        loss=LOSS,
        data=dict(VIEWS, sets=["unlabeled"], proposals_dir="unused", max_boxes=30),
        optim=dict(
            lr=1e-3,
            lr_linear_proj_mult=0.1,
            weight_decay=1e-4,
            clip_max_norm=0.1,
            batch_size=2,
            epochs=2,
            lr_drop_epoch=1,
        ),
        train=dict(threads=1, checkpoint_every_steps=1, log_every_steps=1),
    )
    return root, config


def test_pretraining_resumes_exactly_and_writes_a_detector_checkpoint(tiny_setup, tmp_path):
    root, config = tiny_setup
    cache = FeatureCache(root / "features", 128)
    source = ProposalSource(root / "proposals", cache, ["unlabeled"])
    assert len(source.items) == 4 and source.missing == 1
    kwargs = dict(cache_root=None, proposals_dir=None, log=lambda m: None, cache=cache, proposals=source)
    straight = pretrain(json.loads(json.dumps(config)), run_dir=tmp_path / "a", **kwargs)
    pretrain(json.loads(json.dumps(config)), run_dir=tmp_path / "b", max_steps=3, **kwargs)
    resumed = pretrain(json.loads(json.dumps(config)), run_dir=tmp_path / "b", **kwargs)
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    final = torch.load(tmp_path / "b" / "model_final.pt")
    assert final["step"] == 4 and set(final["model"]) == set(straight.detector.state_dict())


def test_init_from_loads_everything_but_the_class_head(tiny_setup, tmp_path):
    root, config = tiny_setup
    cache = FeatureCache(root / "features", 128)
    source = ProposalSource(root / "proposals", cache, ["unlabeled"])
    pretrained = pretrain(
        json.loads(json.dumps(config)), None, None, tmp_path / "pre", log=lambda m: None, cache=cache, proposals=source
    )
    detector = build_detector(TINY, 3, [4, 6, 8], seed=5)
    fresh = {k: v.clone() for k, v in detector.state_dict().items()}
    report = load_pretrained(detector, tmp_path / "pre" / "model_final.pt")
    source_weights = pretrained.detector.state_dict()
    for name, value in detector.state_dict().items():
        if name.startswith("class_embed."):
            assert torch.equal(value, fresh[name]), name  # prior bias -4.6 and fresh weights stay
        else:
            assert torch.equal(value, source_weights[name]), name
    assert report["kept"] == sorted(k for k in fresh if k.startswith("class_embed."))
    assert (detector.class_embed[0].bias == -math.log(99)).all()
    assert any(not torch.equal(fresh[k], source_weights[k]) for k in report["loaded"])
    # a detector of another size cannot be initialised from it
    with pytest.raises(ValueError, match="shape mismatch"):
        load_pretrained(
            build_detector(dict(TINY, dim_feedforward=48), 3, [4, 6, 8]), tmp_path / "pre" / "model_final.pt"
        )


def test_train_init_from_logs_what_it_loaded(tiny_setup, tmp_path):
    from webdetr_tools.training.loop import train
    from webdetr_tools.training.targets import normalized_target

    class Labels:
        classes = ["a", "b", "c"]

        def target(self, item, flip=False):
            return normalized_target(np.array([[10, 10, 40, 30]]), [1], item.width, item.height, flip)

    root, config = tiny_setup
    cache = FeatureCache(root / "features", 128)
    pretrain(
        json.loads(json.dumps(config)),
        None,
        None,
        tmp_path / "pre",
        log=lambda m: None,
        cache=cache,
        proposals=ProposalSource(root / "proposals", cache, ["unlabeled"]),
    )
    ft = dict(
        seed=0,
        feature_size=128,
        classes=Labels.classes,
        model=TINY,
        loss={k: LOSS[k] for k in LOSS if "contrast" not in k},
        data=dict(sets=["unlabeled"], flip_probability=0.5, pseudo_label_threshold=0.25),
        optim=config["optim"],
        train=dict(threads=1, checkpoint_every_steps=1, log_every_steps=1),
    )
    lines = []
    train(
        ft,
        None,
        None,
        None,
        tmp_path / "ft",
        max_steps=1,
        log=lines.append,
        cache=cache,
        labels=Labels(),
        init_from=tmp_path / "pre" / "model_final.pt",
    )
    assert any(line.startswith("init_from") and "class_embed.0.bias" in line for line in lines), lines


def test_comparison_driver_checks_budgets_and_writes_both_results(repo_dir, tmp_path, monkeypatch):
    import subprocess
    import types

    from experiments import aligndet_compare as driver

    base = json.loads((repo_dir / "tools" / "experiments" / "configs" / "detector_ft_scratch.json").read_text())
    configs = {}
    for name in ("scratch", "aligndet", "pre"):
        c = json.loads(json.dumps(base))
        c["train"]["run_dir"] = str(tmp_path / name)
        (tmp_path / name).mkdir()
        if name == "aligndet":
            c["init_from"] = str(tmp_path / "pre" / "model_final.pt")
        configs[name] = tmp_path / f"{name}.json"
        configs[name].write_text(json.dumps(c))
    calls = []

    def fake_run(command, cwd, check, env=None, capture_output=False, text=False):
        calls.append(command[4:])
        if "tools/evaluate.py" in command:
            ap = 0.2 if "aligndet" in command[-1] else 0.1
            return types.SimpleNamespace(stdout=json.dumps({"coco128_gt_AP": ap, "coco128_gt_AP50": 2 * ap}) + "\n")
        if "tools/train.py" in command or "tools/experiments/train_aligndet.py" in command:
            run_dir = json.loads(Path(command[-1]).read_text())["train"]["run_dir"]
            (Path(run_dir) / "model_final.pt").write_bytes(b"x")
        return types.SimpleNamespace(stdout="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    out = tmp_path / "comparison.json"
    args = [
        "--pretrain-config",
        str(configs["pre"]),
        "--scratch-config",
        str(configs["scratch"]),
        "--aligndet-config",
        str(configs["aligndet"]),
        "--out",
        str(out),
    ]
    driver.main(args)
    assert [c[0] for c in calls] == [
        "tools/experiments/proposals.py",
        "tools/experiments/train_aligndet.py",
        "tools/train.py",
        "tools/evaluate.py",
        "tools/train.py",
        "tools/evaluate.py",
    ]
    result = json.loads(out.read_text())
    assert result["difference_aligndet_minus_scratch"] == {"coco128_gt_AP": 0.1, "coco128_gt_AP50": 0.2}
    calls.clear()
    driver.main(args)  # a rerun trains nothing again
    assert [c[0] for c in calls] == ["tools/experiments/proposals.py", "tools/evaluate.py", "tools/evaluate.py"]
    # budgets that differ are refused
    c = json.loads(configs["aligndet"].read_text())
    c["optim"]["epochs"] += 1
    configs["aligndet"].write_text(json.dumps(c))
    with pytest.raises(SystemExit, match="differ"):
        driver.main(args)
