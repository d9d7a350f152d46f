"""Teacher-embedding one-shot pieces (webdetr_tools/oneshot/teacher_embed.py): class-agnostic peak proposals
decode like the teacher, RoI pooling and centred cosines; the graph taps' shapes when the fetched teacher is
there (nothing is downloaded here)."""
from pathlib import Path

import pytest
import torch

from webdetr_tools.oneshot.teacher_embed import STRIDES, TAPS, embed, feature_mean, pool, proposals, similarity
from webdetr_tools.teacher.centernet_teacher import decode

MODEL_JSON = Path(__file__).resolve().parents[2] / ".cache" / "human-models" / "centernet.json"


def test_proposals_are_the_class_agnostic_peaks_with_the_teachers_boxes():
    torch.manual_seed(0)
    logits = torch.full((80, 16, 16), -8.0)
    logits[3, 4, 5] = 2.0  # a strong peak of class 3
    logits[7, 10, 12] = 0.5  # a weaker one of class 7
    logits[9, 10, 12] = -1.0  # the same cell, another class: one proposal per cell
    wh = torch.rand(4, 16, 16) * 20
    boxes, objectness = proposals(logits, wh, k=2)
    rows = decode(logits.sigmoid()[None], wh[None], k=2)
    assert torch.allclose(boxes, rows[:, :4]) and torch.allclose(objectness, rows[:, 4])
    assert objectness[0] == torch.sigmoid(torch.tensor(2.0)) and boxes[1, 0] == 12 * 4 - wh[0, 10, 12]


def test_pool_modes_and_centred_cosine():
    feature = torch.zeros(2, 8, 8)
    feature[0, :, :4] = 1.0  # left half: channel 0
    feature[1, :, 4:] = 1.0  # right half: channel 1
    stride = 4  # the map covers 32 x 32 input pixels
    left, right, both = (
        torch.tensor([[0.0, 0, 12, 32]]),  # clear of the edge: RoIAlign samples bilinearly
        torch.tensor([[20.0, 0, 32, 32]]),
        torch.tensor([[0.0, 0, 32, 32]]),
    )
    assert torch.allclose(pool(feature, left, stride), torch.tensor([[1.0, 0.0]]), atol=1e-6)
    assert torch.allclose(pool(feature, both, stride), torch.tensor([[0.5, 0.5]]), atol=1e-6)
    assert torch.allclose(pool(feature, both, stride, "max"), torch.tensor([[1.0, 1.0]]))
    assert pool(feature, both, stride, "meanmax").shape == (1, 4)
    maps = {"neck4": feature}
    boxes = torch.cat([left, right, both])
    e = embed(maps, boxes, ["neck4"])
    assert torch.allclose(e["neck4"].norm(dim=1), torch.ones(3))
    raw = similarity({"neck4": e["neck4"][0]}, e)
    assert raw[0] == pytest.approx(1.0) and raw[1] == pytest.approx(0.0, abs=1e-6)
    center = feature_mean([maps], ["neck4"])
    assert torch.allclose(center["neck4"], torch.tensor([0.5, 0.5]))
    c = embed(maps, boxes, ["neck4"], center=center)
    centred = similarity({"neck4": c["neck4"][0]}, c)
    assert centred[1] == pytest.approx(-1.0)  # opposite halves, once the shared mean is gone


@pytest.mark.skipif(not MODEL_JSON.is_file(), reason="run tools/fetch_backbone.py for the CenterNet graph")
def test_teacher_maps_shapes_at_any_input_size():
    from webdetr_tools.oneshot.teacher_embed import TeacherMaps

    maps = TeacherMaps(MODEL_JSON)(torch.rand(1, 3, 96, 128) * 255)
    channels = {"neck4": 128, "neck8": 192, "neck16": 256, "c5": 480, "heat": 80, "wh": 4}
    assert set(maps) == set(TAPS)
    for tap, c in channels.items():
        assert tuple(maps[tap].shape) == (c, 96 // STRIDES[tap], 128 // STRIDES[tap])
    assert (maps["wh"] >= 0).float().mean() > 0.5  # box sides in pixels, mostly positive
