"""Zoomed search (webdetr_tools/oneshot/zoom.py, webdetr_tools/oneshot/runtime_path.py ZoomedDetector): window geometry,
the merge, and that the detector searches the windows only for small queries, with the query seen at the
targets' zoom."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from webdetr_tools.oneshot.runtime_path import RuntimePathDetector, ZoomedDetector
from webdetr_tools.data.datasets import Sample
from webdetr_tools.evaluation.oneshot_ap import OneShotQuery
from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR
from webdetr_tools.oneshot.zoom import WHOLE_IMAGE, from_window, merge_views, query_window, to_window, zoom_windows


def test_windows_span_the_image_edge_to_edge_evenly():
    assert zoom_windows(1, 1.0) == [WHOLE_IMAGE]
    windows = zoom_windows(2, 0.6)
    assert windows == pytest.approx([(0, 0, 0.6, 0.6), (0.4, 0, 1.0, 0.6), (0, 0.4, 0.6, 1.0), (0.4, 0.4, 1.0, 1.0)])
    three = zoom_windows(3, 0.4)
    assert [w[0] for w in three[:3]] == pytest.approx([0, 0.3, 0.6]) and three[-1][2:] == pytest.approx((1, 1))


@pytest.mark.parametrize("grid, side", [(0, 0.5), (2, 0.4), (2, 0), (1, 1.5)])
def test_windows_that_leave_gaps_are_refused(grid, side):
    with pytest.raises(ValueError):
        zoom_windows(grid, side)


def test_the_query_window_holds_the_box_and_is_nearest_its_centre():
    windows = zoom_windows(2, 0.6)
    assert query_window((0.52, 0.1, 0.58, 0.2), windows) == pytest.approx(
        windows[1]
    )  # in both top windows; nearer the right
    assert query_window((0.42, 0.1, 0.48, 0.2), windows) == pytest.approx(windows[0])
    assert query_window((0.1, 0.5, 0.2, 0.55), windows) == pytest.approx(windows[2])
    assert query_window((0.3, 0.3, 0.7, 0.5), windows) is None  # wider than any window's overlap


def test_boxes_map_into_a_window_and_back():
    boxes = torch.tensor([[0.4, 0.4, 0.7, 1.0], [0.5, 0.55, 0.6, 0.6]])
    window = (0.4, 0.4, 1.0, 1.0)
    inside = to_window(boxes, window)
    torch.testing.assert_close(inside[0], torch.tensor([0.0, 0.0, 0.5, 1.0]))
    torch.testing.assert_close(from_window(inside, window), boxes)


def test_merge_suppresses_the_weaker_of_overlapping_boxes_across_views_and_keeps_the_best():
    whole = (torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 0.7, 0.7]]), torch.tensor([0.4, 0.2]))
    window = (torch.tensor([[0.01, 0.0, 0.5, 0.5], [0.8, 0.8, 0.9, 0.9]]), torch.tensor([0.9, 0.1]))
    boxes, scores = merge_views([whole[0], window[0]], [whole[1], window[1]], iou=0.5, keep=2)
    torch.testing.assert_close(scores, torch.tensor([0.9, 0.2]))  # 0.4 overlaps 0.9's box; 0.1 is past keep
    torch.testing.assert_close(boxes[0], window[0][0])


CONFIG = {
    "channels": [3, 4, 5],
    "d_model": 32,
    "nheads": 2,
    "enc_layers": 1,
    "dec_layers": 1,
    "dim_feedforward": 32,
    "queries_per_patch": 6,
    "max_patches": 1,
    "patch_descriptor": "roi",
    "image_size": 64,
}


class RecordingBackbone:
    """Taps at strides 8/16/32 of the input (average pools through fixed channel mixes); records its inputs."""

    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.mix = [torch.randn(c, 3, generator=g) for c in CONFIG["channels"]]
        self.inputs = []

    def __call__(self, image):
        self.inputs.append(image)
        return [
            torch.einsum("cd,bdhw->bchw", m, torch.nn.functional.avg_pool2d(image / 255, s))
            for m, s in zip(self.mix, (8, 16, 32))
        ]


@pytest.fixture
def scene(tmp_path: Path):
    rng = np.random.default_rng(0)
    samples = []
    for n, (w, h) in enumerate(((120, 90), (80, 100))):
        path = tmp_path / f"img{n}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        samples.append(Sample(path, w, h))
    torch.manual_seed(0)
    return OneShotDETR(OneShotConfig.from_dict(CONFIG)).eval(), samples


def test_large_queries_search_the_whole_image_only_as_the_runtime_does(scene):
    model, samples = scene
    query = OneShotQuery(0, 0, (10.0, 10.0, 100.0, 80.0), "thing")  # 0.75 of the width: no zoom
    backbone = RecordingBackbone()
    zoomed = ZoomedDetector(model, backbone, samples, 64, grid=2, side=0.6, below=0.2, nms_iou=1.0)(query, [0, 1])
    assert len(backbone.inputs) == 2  # one whole-image view per picture
    plain = RuntimePathDetector(model, RecordingBackbone(), samples, 64)
    plain.clamp_boxes = True  # the zoomed views' boxes are clamped to their view
    for (boxes, scores), (want_boxes, want_scores) in zip(zoomed, plain(query, [0, 1])):
        np.testing.assert_allclose(scores, want_scores[: len(scores)], rtol=1e-6)
        np.testing.assert_allclose(boxes, want_boxes[: len(boxes)], rtol=1e-5, atol=1e-4)


def test_small_queries_also_search_every_window_with_the_descriptor_of_their_own(scene):
    model, samples = scene
    query = OneShotQuery(0, 0, (80.0, 10.0, 92.0, 20.0), "thing")  # 0.1 x 0.11 of its picture, top right
    backbone = RecordingBackbone()
    detector = ZoomedDetector(model, backbone, samples, 64, grid=2, side=0.6, below=0.2, nms_iou=0.5)
    (same, same_scores), (other, _) = detector(query, [0, 1])
    # whole + 4 windows of each picture; the query's window (top right) is read once, shared with its search
    assert len(backbone.inputs) == 10
    assert set(detector._view_taps) == {(i, w) for i in (0, 1) for w in detector.windows}
    # the top-right window view of picture 0 is its pixels 48..120 x 0..54, cropped and stretched to 64x64
    want = np.asarray(
        Image.open(samples[0].image).convert("RGB").crop((48, 0, 120, 54)).resize((64, 64), Image.BILINEAR)
    )
    got = detector._view_taps[(0, detector.windows[1])]
    torch.testing.assert_close(got, backbone(torch.from_numpy(want.astype(np.float32).copy()).permute(2, 0, 1)[None]))
    assert len(same) <= 20 and np.all(np.diff(same_scores) <= 0)
    assert same.min() >= 0 and same[:, [0, 2]].max() <= 120 and same[:, [1, 3]].max() <= 90
    assert other[:, [0, 2]].max() <= 80 and other[:, [1, 3]].max() <= 100


@pytest.mark.parametrize(
    "box, views",
    [
        (
            (1.0, 0.0, 25.0, 10.0),
            1,
        ),  # 24 of 120 px wide: 25/120 - 1/120 is 0.2 in float64 (not under `below`), 0.19999999 in float32
        ((1.0, 0.0, 24.0, 10.0), 5),  # a pixel narrower: zoomed
    ],
)
def test_the_zoom_decision_is_float64_from_the_whole_pixel_box_as_the_runtime_makes_it(scene, box, views):
    """src/worker/zoomed-search.ts planZoom: max(x1/W - x0/W, y1/H - y0/H) < below, in float64 (JavaScript numbers)."""
    model, samples = scene
    backbone = RecordingBackbone()
    ZoomedDetector(model, backbone, samples, 64, grid=2, side=0.6, below=0.2)(OneShotQuery(0, 0, box, "thing"), [0])
    assert len(backbone.inputs) == views  # the whole image, and every window when it zooms


def test_crop_models_are_refused(scene):
    _, samples = scene
    crop_model = OneShotDETR(OneShotConfig.from_dict({**CONFIG, "patch_descriptor": "crop"})).eval()
    with pytest.raises(ValueError, match="roi"):
        ZoomedDetector(crop_model, RecordingBackbone(), samples, 64, grid=2, side=0.6, below=0.2)
