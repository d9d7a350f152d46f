"""Detector v2 pieces: views and box mapping (a drawn rectangle lands where its mapped box says), weak
labels, the teacher-neck taps (shapes; equal to the graph's own fixed-size resize at 512), config checks,
the epoch plan, and a resumed two-stage run equal to an uninterrupted one."""
import json

import numpy as np
import pytest
import torch

from webdetr_tools.detector_v2.augment import View, map_boxes, render, sample_views
from webdetr_tools.detector_v2.config import REPO, load_config
from webdetr_tools.detector_v2.weak import apply_weak_label, weak_class
from webdetr_tools.teacher.coco80 import COCO80_NAMES
from webdetr_tools.training.boxes import cxcywh_to_xyxy

AUG = {"views": 6, "crop_scale": [0.3, 1.0], "colour_jitter": 0.25, "min_visible": 0.35}


def _bright_box(image: torch.Tensor):
    """xyxy (normalized) of the pixels brighter than half in a [1, 3, S, S] render."""
    mask = image[0].mean(0) > 127
    ys, xs = torch.nonzero(mask, as_tuple=True)
    s = image.shape[-1]
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32) / s


@pytest.mark.parametrize("view_index", range(6))
def test_mapped_box_matches_the_rendered_object(view_index):
    rgb = np.zeros((120, 200, 3), np.uint8)
    box = np.array([[70, 30, 150, 100]], np.float32)
    rgb[30:100, 70:150] = 230
    views = sample_views(np.random.RandomState(view_index), 200, 120, 6, {**AUG, "crop_scale": [0.6, 1.0]})
    view = views[view_index]
    mapped, labels = map_boxes(box, [7], view, min_visible=0.0)
    image = render(rgb, view, 64)
    if not len(labels):
        assert not (image[0].mean(0) > 127).any()
        return
    assert labels.tolist() == [7]
    expected = cxcywh_to_xyxy(mapped)[0]
    assert torch.allclose(_bright_box(image), expected, atol=2.5 / 64), (view, _bright_box(image), expected)


def test_identity_and_flip_views_and_dropping_cut_boxes():
    views = sample_views(np.random.RandomState(0), 100, 50, 4, AUG)
    assert views[0] == View((0.0, 0.0, 100.0, 50.0)) and views[1] == View((0.0, 0.0, 100.0, 50.0), True)
    b, _ = map_boxes([[10, 5, 30, 25]], [1], views[1])
    assert torch.allclose(cxcywh_to_xyxy(b)[0], torch.tensor([0.7, 0.1, 0.9, 0.5]))
    crop = View((0.0, 0.0, 50.0, 50.0))
    b, lab = map_boxes([[30, 0, 60, 10], [45, 0, 100, 10]], [1, 2], crop, min_visible=0.35)
    assert lab.tolist() == [1]  # the first keeps 20/30 of its area, the second 5/55: dropped
    assert torch.allclose(cxcywh_to_xyxy(b)[0], torch.tensor([0.6, 0.0, 1.0, 0.2]))


def test_weak_label_turns_the_teachers_dog_into_the_cat_of_the_file_name():
    cat, dog = COCO80_NAMES.index("cat"), COCO80_NAMES.index("dog")
    assert weak_class("n02123045_tabby.JPEG") == cat and weak_class("n02099601_golden_retriever.JPEG") == dog
    assert weak_class("n04254680_soccer_ball.JPEG") == COCO80_NAMES.index("sports ball")
    assert weak_class("n01440764_tench.JPEG") is None
    # ImageNet DET samples (<wnid>_<image>_<DET class>.jpg): the DET class name decides, not the id ranges
    assert weak_class("n04442312_19430_toaster.jpg") == COCO80_NAMES.index("toaster")
    assert weak_class("n02121808_7442_domestic_cat.jpg") == cat
    assert weak_class("n02129165_1270_lion.jpg") is None and weak_class("n01503061_3560_bird.jpg") == 14
    rows = [
        [0, 5, 427, 298, 0.47, dog],
        [0, 4, 417, 298, 0.34, dog],
        [300, 200, 400, 290, 0.3, 56],
        [0, 5, 427, 298, 0.23, cat],
    ]
    fixed = apply_weak_label(rows, cat, threshold=0.25)
    assert [r[5] for r in fixed] == [56, cat] and fixed[1][4] == 0.25  # both dogs on the cat dropped, chair kept
    assert apply_weak_label(rows[:3], cat, 0.25) == rows[:3]  # no cat box: unchanged


def test_committed_config_loads_and_bad_configs_are_refused(tmp_path):
    config = load_config(REPO / "tools" / "configs" / "detector_v2.json")
    assert config["classes"] == COCO80_NAMES and config["model"]["two_stage"]
    assert "unlabeled_extra" in config["data"]["sets"] and config["data"]["gallery_size"] >= 30
    bad = dict(config, classes=config["classes"] + ["unicorn"])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="unicorn"):
        load_config(tmp_path / "bad.json")


MODEL_JSON = REPO / ".cache" / "human-models" / "centernet.json"


@pytest.mark.skipif(not MODEL_JSON.is_file(), reason="run tools/fetch_backbone.py for the CenterNet graph")
def test_neck_taps_shapes_and_equal_to_the_fixed_size_graph_at_512():
    from webdetr_tools.backbones.tfjs_graph import TfjsGraphModule
    from webdetr_tools.detector_v2.neck import LEVEL_CHANNELS, TAPS, TeacherNeck

    neck = TeacherNeck(MODEL_JSON).eval()
    with torch.no_grad():
        levels = neck(torch.rand(2, 3, 320, 320) * 255)
        assert [tuple(t.shape) for t in levels] == [
            (2, c, 320 // s, 320 // s) for c, s in zip(LEVEL_CHANNELS, (8, 16, 32))
        ]
        image = torch.rand(1, 3, 512, 512) * 255
        fixed = TfjsGraphModule(neck.graph.graph, [TAPS["neck8"], TAPS["heat_logits"], "tower_0/keypoints"])
        neck8, heat, keypoints = fixed(image)
        ours = neck(image)
        assert torch.allclose(ours[0][:, :192], neck8, atol=1e-5)
        assert torch.allclose(ours[0][:, 192:272], torch.nn.functional.max_pool2d(heat, 2), atol=1e-5)
        assert torch.allclose(neck.raw(image)[0], keypoints, atol=1e-6)


def test_epoch_plan_is_seeded_and_mixes_views():
    from webdetr_tools.detector_v2.loop import epoch_plan

    a, va = epoch_plan(1000, 0, 3, 6, 0.25)
    b, vb = epoch_plan(1000, 0, 3, 6, 0.25)
    assert (a == b).all() and (va == vb).all() and sorted(a.tolist()) == list(range(1000))
    share = np.bincount(va, minlength=6) / 1000
    assert 0.18 < share[0] < 0.32 and (share[1:] > 0.1).all()
    assert not (epoch_plan(1000, 0, 4, 6, 0.25)[0] == a).all()


class _FakeCache:
    """ViewCache's interface over random tensors: 3 images x 2 views, levels 8x8 / 4x4 / 2x2."""

    def __init__(self):
        from webdetr_tools.detector_v2.neck import LEVEL_CHANNELS

        g = torch.Generator().manual_seed(0)
        self.ids = ["a", "b", "c"]
        self.data = {
            (i, v): [torch.randn(c, 8 >> k, 8 >> k, generator=g) for k, c in enumerate(LEVEL_CHANNELS)]
            for i in self.ids
            for v in range(2)
        }

    def images(self, name, split=None):
        return [{"id": i, "split": "train", "width": 64, "height": 48} for i in self.ids if split in (None, "train")]

    def features(self, items):
        return [torch.stack(level) for level in zip(*[self.data[(i, v)] for _, i, v in items])]


class _FakeTargets:
    classes = COCO80_NAMES

    def target(self, name, image_id, view):
        k = self.ids_index(image_id)
        return {"boxes": torch.tensor([[0.3 + 0.1 * k, 0.5, 0.2, 0.3 + 0.1 * view]]), "labels": torch.tensor([k])}

    @staticmethod
    def ids_index(image_id):
        return "abc".index(image_id)


def test_resumed_two_stage_run_equals_uninterrupted_run(tmp_path):
    from webdetr_tools.detector_v2.loop import train

    config = load_config(REPO / "tools" / "configs" / "detector_v2.json")
    config = json.loads(json.dumps(config))
    config["data"]["sets"] = ["fake"]
    config["augment"]["views"] = 2
    config["model"].update(
        hidden_dim=32,
        nheads=2,
        enc_layers=1,
        dec_layers=2,
        dim_feedforward=64,
        num_queries=6,
        enc_n_points=2,
        dec_n_points=2,
    )
    config["optim"].update(batch_size=2, epochs=3, lr_drop_epoch=1)
    config["train"].update(checkpoint_every_steps=1, eval_every_steps=10**6)
    cache, targets = _FakeCache(), _FakeTargets()
    quiet = dict(log=lambda m: None)
    straight = train(json.loads(json.dumps(config)), cache, targets, tmp_path / "a", max_steps=4, **quiet)
    train(json.loads(json.dumps(config)), cache, targets, tmp_path / "b", max_steps=3, **quiet)
    resumed = train(json.loads(json.dumps(config)), cache, targets, tmp_path / "b", max_steps=1, **quiet)
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    assert torch.load(tmp_path / "b" / "checkpoint.pt")["step"] == 4
    other = json.loads(json.dumps(config))
    other["optim"]["lr"] = 1e-3
    with pytest.raises(SystemExit, match="another config"):
        train(other, cache, targets, tmp_path / "b", max_steps=1, **quiet)
