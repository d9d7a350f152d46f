"""SSDLite one-shot pieces (webdetr_tools/oneshot/ssdlite_embed.py): anchor proposals, pooling in 0-1
coordinates (equal to the teacher's pixel pooling), best-anchor class vectors, centred embeddings; the graph's
tap shapes when the fetched model is in the cache (nothing is downloaded here)."""
import pytest
import torch

from webdetr_tools.oneshot.ssdlite_embed import (
    CLASS_TAP,
    SsdLiteMaps,
    anchor_class_vectors,
    anchor_proposals,
    embed_normalised,
    map_means,
    pool_normalised,
    preprocess,
)
from webdetr_tools.oneshot.teacher_embed import pool
from webdetr_tools.teacher.ssdlite import DEFAULT_CACHE, verified


def test_anchor_proposals_rank_by_max_class_probability_and_suppress_duplicates():
    boxes = torch.tensor(
        [
            [0.1, 0.1, 0.5, 0.5],
            [0.11, 0.1, 0.5, 0.5],  # a duplicate of the first, weaker
            [0.6, 0.6, 1.2, 0.9],  # sticks out of the picture: clipped
            [0.3, 0.3, 0.305, 0.6],  # a sliver: dropped
        ]
    )
    probs = torch.zeros(4, 80)
    probs[0, 3], probs[1, 5], probs[2, 7], probs[3, 1] = 0.9, 0.8, 0.5, 0.99
    kept, objectness = anchor_proposals(boxes, probs, k=10, nms_iou=0.7)
    assert torch.allclose(objectness, torch.tensor([0.9, 0.5]))
    assert torch.allclose(kept[1], torch.tensor([0.6, 0.6, 1.0, 0.9]))
    kept, objectness = anchor_proposals(boxes, probs, k=2, nms_iou=None)
    assert torch.allclose(objectness, torch.tensor([0.9, 0.8]))


def test_normalised_pooling_equals_the_teachers_pixel_pooling():
    torch.manual_seed(0)
    feature = torch.rand(5, 32, 32)  # a stride-4 map of a 128 x 128 input
    boxes_px = torch.tensor([[4.0, 10.0, 60.0, 90.0], [0.0, 0.0, 128.0, 128.0]])
    assert torch.allclose(pool_normalised(feature, boxes_px / 128), pool(feature, boxes_px, 4), atol=1e-5)


def test_class_vectors_and_centred_embeddings():
    anchors = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    probs = torch.zeros(2, 80)
    probs[0, 2], probs[1, 9] = 0.7, 0.4
    vectors = anchor_class_vectors(anchors, probs, torch.tensor([[0.55, 0.5, 1.0, 0.95]]))
    assert torch.equal(vectors[0], probs[1])
    feature = torch.zeros(2, 4, 4)
    feature[0, :, :2], feature[1, :, 2:] = 1.0, 1.0
    maps = {"c4": feature, "boxes": anchors, "probs": probs}
    center = map_means([maps], ["c4", CLASS_TAP])
    assert torch.allclose(center["c4"], torch.tensor([0.5, 0.5])) and torch.allclose(center[CLASS_TAP], probs.mean(0))
    out = embed_normalised(maps, torch.tensor([[0.0, 0.0, 0.4, 1.0], [0.6, 0.0, 1.0, 1.0]]), ["c4", CLASS_TAP], center)
    assert torch.allclose(out["c4"] @ out["c4"].T, torch.tensor([[1.0, -1.0], [-1.0, 1.0]]), atol=1e-5)
    assert torch.allclose(out[CLASS_TAP].norm(dim=1), torch.ones(2))


@pytest.mark.skipif(not verified(DEFAULT_CACHE), reason="SSDLite model not fetched (.cache/coco-ssd)")
def test_graph_maps_shapes():
    torch.set_num_threads(1)
    maps = SsdLiteMaps()(preprocess(torch.randint(0, 255, (60, 80, 3), dtype=torch.uint8).numpy()))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "c3": (192, 38, 38),
        "c4": (576, 19, 19),
        "c5": (1280, 10, 10),
        "x6": (512, 5, 5),
        "boxes": (1917, 4),
        "probs": (1917, 80),
    }
