"""Sliding-window cosine baseline and the random-patch sampler on hand-made inputs."""
import numpy as np
import torch

from webdetr_tools.oneshot import baseline
from webdetr_tools.oneshot.pretext import random_boxes

CHANNELS = [4, 4, 8]


def test_finds_the_repeated_pattern_at_its_place_and_size():
    torch.manual_seed(0)
    # per tap, channels (a, b, c, c): object parts a and b, background c (all orthogonal)
    unit = torch.eye(4)
    a, b, c = (
        unit[0].repeat(4)[:, None, None],
        unit[1].repeat(4)[:, None, None],
        (unit[2] + unit[3]).repeat(4)[:, None, None],
    )
    grid = c.expand(16, 20, 20) + torch.rand(16, 20, 20) * 0.01
    # an object = 3 columns of pattern a, 1 of b: no sub-window has the object's mean (a symmetric
    # object would tie with its centred sub-windows: mean pooling cannot tell them apart)
    for y, x in ((2, 3), (12, 10)):  # the query (4x4 cells at (3, 2)) and its twin
        grid[:, y : y + 4, x : x + 3] = a
        grid[:, y : y + 4, x + 3 : x + 4] = b
    query = baseline.roi_descriptor(grid, (3 / 20, 2 / 20, 7 / 20, 6 / 20))
    boxes, scores = baseline.detect(grid, query, CHANNELS, (0.2, 0.2), max_detections=5)
    assert scores[0] >= scores[1] >= scores[-1]
    found = {tuple(np.round(b.numpy() * 20).astype(int)) for b in boxes[:2]}
    assert found == {(3, 2, 7, 6), (10, 12, 14, 16)}
    assert float(scores[2]) < float(scores[1]) - 0.01  # the best part-window ranks below the twin


def test_grid_features_upsample_coarse_taps_to_the_finest_grid():
    levels = [torch.zeros(2, 4, 4), torch.ones(2, 2, 2), torch.arange(4.0).view(4, 1, 1).expand(4, 1, 1)]
    grid = baseline.grid_features(levels)
    assert grid.shape == (8, 4, 4)
    assert (grid[2:4] == 1).all() and (grid[4:, 3, 3] == torch.arange(4.0)).all()


def test_random_boxes_stay_inside_and_are_seeded():
    a = random_boxes(np.random.RandomState([0, 5]), 640, 480, 50, 0.05, 0.8)
    b = random_boxes(np.random.RandomState([0, 5]), 640, 480, 50, 0.05, 0.8)
    assert (a == b).all()
    assert (a[:, 0] >= 0).all() and (a[:, 2] <= 640).all() and (a[:, 1] >= 0).all() and (a[:, 3] <= 480).all()
    assert ((a[:, 2] - a[:, 0]) >= 8).all() and ((a[:, 3] - a[:, 1]) >= 8).all()
