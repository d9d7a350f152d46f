"""Selective search's hierarchical grouping (Uijlings et al. 2013) over a segmentation: greedily merge the
most similar pair of adjacent regions until one is left, keeping every region created on the way.

Similarity (the paper's colour + size + fill terms; texture left out for cost): colour = histogram
intersection of L1-normalized 25-bin-per-channel RGB histograms; size = 1 - (|a| + |b|) / |image|
(merge small regions first); fill = 1 - (|bbox(a u b)| - |a| - |b|) / |image| (merge regions that fit
together). Ranking as the paper: within one hierarchy the last region created is number 1, the one before
2, ..., the initial segments last; each number is multiplied by a uniform random draw (seeded) and
proposals are taken in ascending order, so large regions come early but not always first.

API
  segment_boxes(labels [H, W] int) -> (boxes xyxy [S, 4] in pixels, pixel counts [S]) (labels 0..S-1: row = id)
  adjacent_pairs(labels [H, W]) -> [P, 2] int pairs of 4-connected distinct segments (a < b)
  hierarchical_grouping(image [H, W, 3] uint8, labels [H, W] int 0..S-1, rng) -> (boxes xyxy [2S-1, 4] px,
      rank values [2S-1], lower = better)
"""
from __future__ import annotations

import heapq

import numpy as np

BINS = 25


def segment_boxes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    n = int(labels.max()) + 1
    ys, xs = np.indices(labels.shape)
    flat = labels.ravel()
    x0 = np.full(n, np.inf)
    y0 = np.full(n, np.inf)
    x1 = np.full(n, -np.inf)
    y1 = np.full(n, -np.inf)
    np.minimum.at(x0, flat, xs.ravel())
    np.minimum.at(y0, flat, ys.ravel())
    np.maximum.at(x1, flat, xs.ravel() + 1)  # pixel (x, y) covers [x, x+1) x [y, y+1)
    np.maximum.at(y1, flat, ys.ravel() + 1)
    counts = np.bincount(flat, minlength=n)
    present = counts > 0
    return np.stack([x0, y0, x1, y1], -1)[present].astype(np.float32), counts[present].astype(np.float32)


def adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        differ = a != b
        pairs.append(np.stack([np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])], -1))
    pairs = np.concatenate(pairs).reshape(-1, 2)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.astype(np.int64)


def _histograms(image: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    flat = labels.ravel()
    out = np.zeros((n, 3 * BINS))
    for c in range(3):
        bins = image[..., c].ravel().astype(np.int64) * BINS // 256
        out[:, c * BINS : (c + 1) * BINS] = np.bincount(flat * BINS + bins, minlength=n * BINS).reshape(n, BINS)
    return out / out.sum(1, keepdims=True)


def hierarchical_grouping(image: np.ndarray, labels: np.ndarray, rng: np.random.RandomState):
    boxes, sizes = segment_boxes(labels)
    n = len(boxes)
    boxes, sizes = list(boxes.astype(np.float64)), list(sizes.astype(np.float64))
    hists = list(_histograms(image, labels, n))
    total = float(labels.size)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in adjacent_pairs(labels):
        neighbours[a].add(int(b))
        neighbours[b].add(int(a))

    def similarity(a: int, b: int) -> float:
        union = np.concatenate([np.minimum(boxes[a][:2], boxes[b][:2]), np.maximum(boxes[a][2:], boxes[b][2:])])
        box_area = (union[2] - union[0]) * (union[3] - union[1])
        return (
            np.minimum(hists[a], hists[b]).sum()
            + 1
            - (sizes[a] + sizes[b]) / total
            + 1
            - (box_area - sizes[a] - sizes[b]) / total
        )

    heap = [(-similarity(a, b), a, b) for a in range(n) for b in neighbours[a] if a < b]
    heapq.heapify(heap)
    alive = [True] * n
    while heap:
        _, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        new = len(boxes)
        boxes.append(np.concatenate([np.minimum(boxes[a][:2], boxes[b][:2]), np.maximum(boxes[a][2:], boxes[b][2:])]))
        sizes.append(sizes[a] + sizes[b])
        hists.append((sizes[a] * hists[a] + sizes[b] * hists[b]) / sizes[-1])
        alive[a] = alive[b] = False
        alive.append(True)
        joined = (neighbours[a] | neighbours[b]) - {a, b}
        neighbours.append(joined)
        for m in joined:
            neighbours[m] -= {a, b}
            neighbours[m].add(new)
            heapq.heappush(heap, (-similarity(m, new), m, new))
    created = len(boxes)
    # region k (0-based creation order) gets number created - k: the last one created is 1
    numbers = created - np.arange(created, dtype=np.float64)
    return np.array(boxes, np.float32).reshape(-1, 4), numbers * rng.random_sample(created)
