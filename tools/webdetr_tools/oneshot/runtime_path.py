"""The Python reference of the runtime's one-shot path, the code the shipped one-shot model is evaluated with
(tools/eval_shipped_oneshot.py, calibrate_oneshot.py, experiments/oneshot_ceiling.py) and its fixtures are made
with (tools/build_models.py, render_examples.py): RuntimePathDetector (the picture PIL-stretched to the model
input, the query box on whole pixels) and ZoomedDetector / zoomed_search (the package's zoomed search; the
runtime's src/worker/zoomed-search.ts follows it)."""
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from webdetr_tools.evaluation.oneshot_ap import OneShotQuery
from webdetr_tools.oneshot.model import ModelDetector
from webdetr_tools.oneshot.patches import crop_patches, roi_descriptors
from webdetr_tools.oneshot.zoom import WHOLE_IMAGE, from_window, merge_views, query_window, to_window, zoom_windows
from webdetr_tools.ship.inputs import model_input

SETS = ("bccd", "raccoon", "pennfudan", "coco128")  # the one-shot evaluation's held-out sets
MAX_DETECTIONS = 20


def whole_pixel_box(box, sample):
    x0, y0, x1, y1 = (math.floor(v + 0.5) for v in box)
    x0, y0 = min(max(x0, 0), sample.width - 1), min(max(y0, 0), sample.height - 1)
    return x0, y0, max(min(x1, sample.width), x0 + 1), max(min(y1, sample.height), y0 + 1)


class RuntimePathDetector(ModelDetector):
    """Memory from the PIL-stretched image (as the browser); the patch from the whole-pixel box: its crop
    through the backbone ('crop' models), or the query image's own taps pooled over it ('roi'). Output boxes
    are not clamped here, though the runtime (and so the CLI) clamps them to the picture since 2026-12-07:
    ZoomedDetector, the shipped path, clamps every view's; a comparison without zoom should clamp too."""

    clamp_boxes = False

    def __init__(self, model, backbone, samples, size):
        super().__init__(model, backbone, samples, self._stretched_levels, MAX_DETECTIONS)
        self.size, self._taps = size, {}

    def _stretched_levels(self, i):
        if i not in self._taps:
            self._taps[i] = self.backbone(model_input(Image.open(self.samples[i].image).convert("RGB"), self.size))
        return self._taps[i]

    def patch_box(self, query):
        """[1, 1, 4]: the runtime's patch input for 'roi' models, the whole-pixel rectangle over the image size."""
        s = self.samples[query.image]
        box = torch.tensor(whole_pixel_box(query.box, s), dtype=torch.float32)
        return (box / torch.tensor([s.width, s.height, s.width, s.height], dtype=torch.float32)).view(1, 1, 4)

    def crop(self, query):
        s = self.samples[query.image]
        rgb = np.asarray(Image.open(s.image).convert("RGB"))
        return crop_patches(rgb, np.array([whole_pixel_box(query.box, s)]), self.model.config.patch_size)


class ZoomedDetector(RuntimePathDetector):
    """Zoomed search (webdetr_tools/oneshot/zoom.py; the runtime's src/worker/zoomed-search.ts follows it): a 'roi'
    model searching the whole image and, for a query whose longer side is under `below` of its image, grid x grid
    overlapping windows of `side` too, each cropped on whole pixels and PIL-stretched to the input (as the runtime's
    crop kernel); the window views' descriptor is pooled from the query image's window that holds the query. The
    views' boxes (clamped to their view) are merged by NMS at `nms_iou`."""

    def __init__(self, model, backbone, samples, size, grid, side, below, nms_iou=0.5):
        if model.config.patch_descriptor != "roi":
            raise ValueError("zoomed search pools the query's descriptor from a window view: 'roi' models only")
        super().__init__(model, backbone, samples, size)
        self.windows, self.below, self.nms_iou = zoom_windows(grid, side), below, nms_iou
        self._view_taps, self._view_memory = {}, {}

    def view_levels(self, i, window):
        if window == WHOLE_IMAGE:
            return self._stretched_levels(i)
        if (i, window) not in self._view_taps:
            # the runtime's crop path (patches.crop_patches = the crop kernel): whole-pixel window, cropped, stretched
            s = self.samples[i]
            pixels = np.array([[window[0] * s.width, window[1] * s.height, window[2] * s.width, window[3] * s.height]])
            view = crop_patches(np.asarray(Image.open(s.image).convert("RGB")), pixels, self.size)
            self._view_taps[(i, window)] = self.backbone(view)
        return self._view_taps[(i, window)]

    def view_memory(self, i, window):
        if window == WHOLE_IMAGE:
            return self.memory(i)
        if (i, window) not in self._view_memory:
            self._view_memory[(i, window)] = self.encoding(self.view_levels(i, window))
        return self._view_memory[(i, window)]

    @torch.no_grad()
    def __call__(self, query, targets):
        box = self.patch_box(query)
        views = [(WHOLE_IMAGE, self.descriptor(query), box)]
        # Whether it zooms, and where, in float64 from the whole-pixel box, as the runtime decides (planZoom): in
        # float32 a box of exactly `below`, or with an edge on a window's, can fall on the other side.
        s = self.samples[query.image]
        x0, y0, x1, y1 = whole_pixel_box(query.box, s)
        relative = (x0 / s.width, y0 / s.height, x1 / s.width, y1 / s.height)
        small = max(relative[2] - relative[0], relative[3] - relative[1]) < self.below
        window = query_window(relative, self.windows) if small else None
        if window is not None:
            window_box = to_window(box, window)
            desc = roi_descriptors(self.view_levels(query.image, window), window_box, self.model.config.roi_samples)
            views += [(w, desc, window_box) for w in self.windows]
        outs = []
        for t in targets:
            boxes, scores = [], []
            for w, desc, patch_box in views:
                xyxy, score = self.relative_detections(self.view_levels(t, w), self.view_memory(t, w), desc, patch_box)
                boxes.append(from_window(xyxy.clamp(0, 1), w))
                scores.append(score)
            ts = self.samples[t]
            xyxy, score = merge_views(boxes, scores, self.nms_iou, self.max_detections)
            xyxy = xyxy * torch.tensor([ts.width, ts.height, ts.width, ts.height], dtype=torch.float32)
            outs.append((xyxy.numpy(), score.numpy()))
        return outs


@torch.no_grad()
def zoomed_search(model, backbone, image, size, zoom, boxes):
    """The runtime's one-shot search on one picture (ZoomedDetector, zoom: the package's input.queryPatch.zoom):
    for each query box (x0, y0, x1, y1 source pixels, whole-pixel edges), alone, its (xyxy pixels [N, 4], scores
    [N]), the best MAX_DETECTIONS. For fixtures and example pictures (build_models.py, render_examples.py)."""
    with Image.open(image) as rgb:
        sample = SimpleNamespace(image=Path(image), width=rgb.width, height=rgb.height)
    detector = ZoomedDetector(
        model, backbone, [sample], size, zoom["grid"], zoom["side"], zoom["below"], zoom["nmsIou"]
    )
    return [detector(OneShotQuery(image=0, instance=0, box=tuple(box), label="query"), [0])[0] for box in boxes]
