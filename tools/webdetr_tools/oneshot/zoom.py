"""Zoomed search for small query patches: the reference of the runtime's (src/worker/zoomed-search.ts, on by
default for packages with manifest input.queryPatch.zoom), evaluated by tools/eval_shipped_oneshot.py.

The one-shot model draws no box under ~7 % of its input side (tools/experiments/results/oneshot_ceiling.json,
box_side_percentiles), so a small object is out of its reach at the whole-image view. Slicing (as SAHI does
for detectors) searches overlapping windows of the image too, each stretched to the model input, so a small
object is seen larger. The query's descriptor for the window views is pooled from the query image's own
window that holds its box, so the query and the targets are seen at the same zoom.

All boxes here are xyxy relative to the image (or to a window), windows (x0, y0, x1, y1) relative to the image.

  zoom_windows(grid, side) -> grid x grid overlapping square windows covering the image
  query_window(box, windows) -> the window that holds the box, the one whose centre is nearest its centre
  to_window(boxes, window) / from_window(boxes, window) -> boxes relative to the window / to the image
  merge_views(boxes, scores, iou, keep) -> the views' boxes merged by NMS, best first
"""
from __future__ import annotations

import torch
import torchvision

Window = tuple[float, float, float, float]
WHOLE_IMAGE: Window = (0.0, 0.0, 1.0, 1.0)


def zoom_windows(grid: int, side: float) -> list[Window]:
    """grid x grid square windows of `side` (relative), spaced evenly from edge to edge, rows first."""
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    if not 0 < side <= 1 or grid * side < 1:
        raise ValueError(f"{grid} windows of side {side} do not cover the image (need 0 < side <= 1, grid * side >= 1)")
    offsets = [0.0] if grid == 1 else [k * (1 - side) / (grid - 1) for k in range(grid)]
    return [(x, y, x + side, y + side) for y in offsets for x in offsets]


def query_window(box, windows: list[Window]) -> Window | None:
    """The window wholly holding `box` whose centre is nearest the box's; None when no window holds it."""
    x0, y0, x1, y1 = (float(v) for v in box)
    holding = [w for w in windows if w[0] <= x0 and w[1] <= y0 and w[2] >= x1 and w[3] >= y1]
    if not holding:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return min(holding, key=lambda w: ((w[0] + w[2]) / 2 - cx) ** 2 + ((w[1] + w[3]) / 2 - cy) ** 2)


def to_window(boxes: torch.Tensor, window: Window) -> torch.Tensor:
    x0, y0, x1, y1 = window
    origin = torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)
    scale = torch.tensor([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=boxes.dtype)
    return (boxes - origin) / scale


def from_window(boxes: torch.Tensor, window: Window) -> torch.Tensor:
    x0, y0, x1, y1 = window
    origin = torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)
    scale = torch.tensor([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=boxes.dtype)
    return boxes * scale + origin


def merge_views(boxes: list[torch.Tensor], scores: list[torch.Tensor], iou: float, keep: int):
    """Concatenated views' boxes [N, 4] and scores [N], non-maximum suppressed at `iou`, the best `keep`."""
    all_boxes, all_scores = torch.cat(boxes), torch.cat(scores)
    kept = torchvision.ops.nms(all_boxes, all_scores, iou)[:keep]
    return all_boxes[kept], all_scores[kept]
