"""Random query patch batches: in-image and cross-image teacher patches, targets, seeding (stub cache and
backbone; solid-colour images tell which image a patch was cropped from); RoI patches pool their source
image's features (a constant per image tells which) and come with the boxes they were pooled over."""
import numpy as np
import pytest
import torch
from PIL import Image

from webdetr_tools.oneshot import pretext

COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]


class StubCache:
    def batch(self, items):
        return [torch.zeros(len(items), 1, 4, 4)]


def make_batches(tmp_path, monkeypatch, **kw):
    images = []
    for n, colour in enumerate(COLOURS):
        path = tmp_path / f"{n}.png"
        Image.new("RGB", (100, 80), colour).save(path)
        images.append(dict(set="s", id=str(n), path=path, width=100, height=80))
    monkeypatch.setattr(pretext, "training_images", lambda cache, root, sets: images)
    monkeypatch.setattr(pretext, "augment", lambda patches: patches)
    # teacher: image 0 has two class-7 boxes, image 1 one class-7 and one class-3, image 2 nothing
    pseudo = {
        "s": {
            "0": (np.array([[0, 0, 20, 20], [50, 40, 90, 70]], float), np.array([7, 7])),
            "1": (np.array([[10, 10, 30, 30], [60, 10, 90, 40]], float), np.array([7, 3])),
        }
    }

    def backbone(x):  # descriptor = mean colour of the patch
        return [x.mean(dim=(2, 3), keepdim=True)]

    return pretext.PretextBatches(
        StubCache(),
        None,
        ["s"],
        backbone,
        batch_images=3,
        patches_per_image=4,
        patch_size=8,
        seed=0,
        pseudo=pseudo,
        **kw,
    )


def test_in_image_teacher_patches_target_every_box_of_their_class(tmp_path, monkeypatch):
    batches = make_batches(tmp_path, monkeypatch, pseudo_fraction=1.0)
    for it in range(4):
        _, desc, targets = batches.batch(it)
        sizes = sorted(tuple(len(t) for t in per_image) for per_image in targets)
        # image 2 has no teacher boxes: random patches, one target each
        for per_image in targets:
            assert all(len(t) in (1, 2) for t in per_image)
        assert (1, 1, 1, 1) in sizes
        assert desc.shape == (3, 4, 3)


def test_cross_image_patches_come_from_another_image(tmp_path, monkeypatch):
    batches = make_batches(tmp_path, monkeypatch, cross_fraction=1.0)
    seen_empty = seen_positive = False
    crossed = 0
    for it in range(6):
        _, desc, targets = batches.batch(it)
        picked = [int(i) for i in np.random.RandomState([0, it]).choice(3, 3, replace=False)]
        for b, image in enumerate(picked):
            for k in range(4):
                source = int(torch.argmax(desc[b, k]))  # the patch's colour = its source image
                if source == image:  # no other image has that class (class 3): random patch kept
                    assert len(targets[b][k]) == 1
                    continue
                crossed += 1
                seen_empty |= len(targets[b][k]) == 0
                seen_positive |= len(targets[b][k]) > 0
    assert seen_empty and seen_positive and crossed >= 12


def test_batches_are_a_function_of_the_iteration(tmp_path, monkeypatch):
    batches = make_batches(tmp_path, monkeypatch, pseudo_fraction=0.3, cross_fraction=0.3)
    a, b = batches.batch(5), batches.batch(5)
    torch.testing.assert_close(a[1], b[1])
    assert all(torch.equal(x, y) for pa, pb in zip(a[2], b[2]) for x, y in zip(pa, pb))


def test_ground_truth_instances_are_train_split_only_with_a_class_per_set_and_label(shared_dir):
    from webdetr_tools.training.features import set_samples

    truth = pretext.load_ground_truth(shared_dir / "data", ["bccd", "raccoon"])
    for name in ("bccd", "raccoon"):
        rows = {r[0]: r for r in set_samples(shared_dir / "data", name)}
        assert truth[name], name
        assert all(rows[image_id][3] == "train" for image_id in truth[name])  # held-out images never read
        assert any(r[3] == "val" for r in rows.values())
        for image_id, (boxes, classes) in truth[name].items():
            sample = rows[image_id][2]
            assert boxes.shape == (len(classes), 4) and len(classes) <= len(sample.boxes)
            assert ((boxes[:, 2:] - boxes[:, :2]) >= 8).all()
    bccd = {int(c) for _, cls in truth["bccd"].values() for c in cls}
    raccoon = {int(c) for _, cls in truth["raccoon"].values() for c in cls}
    assert len(bccd) == 3 and len(raccoon) == 1 and not bccd & raccoon  # RBC / WBC / Platelets; raccoon


class ConstantCache:
    """Image n's single tap is the constant n + 1 (flipped or not), so a RoI descriptor names its source image."""

    def features(self, name, image_id, flip=False):
        return [torch.full((2, 4, 4), float(int(image_id) + 1))]

    def batch(self, items):
        return [torch.stack([self.features(*item)[0] for item in items])]


def test_roi_patches_pool_the_features_of_their_source_image(tmp_path, monkeypatch):
    batches = make_batches(tmp_path, monkeypatch, cross_fraction=1.0, descriptor="roi", roi_samples=2, roi_jitter=0.2)
    batches.cache = ConstantCache()
    monkeypatch.setattr(pretext, "read_rgb", lambda path: pytest.fail("RoI batches decode no pixels"))
    crossed = 0
    for it in range(6):
        levels, desc, targets = batches.batch(it)
        assert desc.shape == (3, 4, 2)
        for b in range(3):
            image = int(levels[0][b, 0, 0, 0]) - 1
            for k in range(4):
                source = round(float(desc[b, k, 0])) - 1  # a constant map pools to its value, up to rounding
                crossed += source != image
                if source == image:  # no other image has its class: the random patch and its one target stay
                    assert len(targets[b][k]) == 1
    assert crossed >= 12


def test_roi_batches_give_the_boxes_their_descriptors_were_pooled_over(tmp_path, monkeypatch):
    # random patches only, no jitter: each patch box is its own target (relative xyxy vs cxcywh)
    batches = make_batches(tmp_path, monkeypatch, pseudo_fraction=0.0, descriptor="roi", roi_samples=2)
    batches.cache = ConstantCache()
    levels, desc, boxes, targets = batches.batch_with_boxes(3)
    assert boxes.shape == (3, 4, 4)
    cxcywh = torch.stack([torch.stack([t[0] for t in per_image]) for per_image in targets]).float()
    want = torch.cat([cxcywh[..., :2] - cxcywh[..., 2:] / 2, cxcywh[..., :2] + cxcywh[..., 2:] / 2], -1)
    torch.testing.assert_close(boxes, want, atol=1e-6, rtol=0)
    # with jitter and cross-image patches: the same batch as batch(), boxes inside their image
    batches = make_batches(tmp_path, monkeypatch, cross_fraction=1.0, descriptor="roi", roi_samples=2, roi_jitter=0.2)
    batches.cache = ConstantCache()
    _, desc, boxes, _ = batches.batch_with_boxes(4)
    assert torch.equal(desc, batches.batch(4)[1])
    assert boxes.min() >= 0 and boxes.max() <= 1 and (boxes[..., 2:] > boxes[..., :2]).all()
    with pytest.raises(ValueError, match="roi"):
        make_batches(tmp_path, monkeypatch).batch_with_boxes(0)


def test_an_unknown_descriptor_is_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="descriptor"):
        make_batches(tmp_path, monkeypatch, descriptor="pixels")


def test_set_weights_set_each_sets_share_of_the_drawn_images(tmp_path, monkeypatch):
    images = []
    for n in range(8):  # 'big': 6 red pictures, 'small': 2 blue ones
        name = "big" if n < 6 else "small"
        path = tmp_path / f"{n}.png"
        Image.new("RGB", (40, 30), COLOURS[0] if name == "big" else COLOURS[2]).save(path)
        images.append(dict(set=name, id=str(n), path=path, width=40, height=30))
    monkeypatch.setattr(pretext, "training_images", lambda cache, root, sets: images)
    monkeypatch.setattr(pretext, "augment", lambda patches: patches)

    def backbone(x):  # descriptor = mean colour: blue = 'small'
        return [x.mean(dim=(2, 3), keepdim=True)]

    def small_share(**kw):
        batches = pretext.PretextBatches(
            StubCache(),
            None,
            ["big", "small"],
            backbone,
            batch_images=1,
            patches_per_image=1,
            patch_size=8,
            seed=0,
            **kw,
        )
        return np.mean([float(batches.batch(it)[1][0, 0, 2] > 100) for it in range(300)])

    assert 0.15 < small_share() < 0.35  # uniform over images: 2 of 8
    assert 0.65 < small_share(set_weights={"small": 3.0}) < 0.85  # 3 : 1 by set
    with pytest.raises(ValueError, match="set_weights"):
        pretext.PretextBatches(StubCache(), None, ["big", "small"], backbone, set_weights={"other": 1.0})
    with pytest.raises(ValueError, match="set_weights"):
        pretext.PretextBatches(StubCache(), None, ["big", "small"], backbone, set_weights={"small": 0.0})
