/**
 * Zoomed search for small query patches (manifest input.queryPatch.zoom; the Python reference is
 * tools/eval_shipped_oneshot.py ZoomedDetector). The one-shot model draws no box under ~7 % of its
 * input side, so a patch smaller than `below` of the image also searches grid x grid overlapping
 * windows, each stretched to the model input. Its descriptors are pooled in the window that holds it
 * (so query and targets are seen at the same zoom) and decoded in every window; every view's boxes,
 * clamped to the view and mapped back to the image, are merged by NMS. This module is the pure part:
 * which patches zoom, in which windows, and how the views' boxes merge. The engine runs the pipelines.
 */
import type { Detection } from '../api/types.js';
import { fromWindow, queryWindow, toWindow, WHOLE_IMAGE, zoomWindows, type RelativeRect } from '../geometry/zoom-windows.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import type { HostTensor } from '../runtime/runner.js';
import type { ZoomSpec } from '../package/manifest.js';
import { mergeViews, type ScoredBox } from '../postprocess/merge-views.js';

export interface ZoomPlan {
  windows: RelativeRect[];
  /** Per window holding at least one small patch (index into `windows`): those patches, in order. */
  groups: { window: number; patches: number[] }[];
  /** The small patches, groups concatenated: row j of the descriptors and window boxes is patch zoomed[j]. */
  zoomed: number[];
  /** zoomed[j]'s rectangle relative to the window that holds it, as the model's [1, K, 4] patches input. */
  windowBoxes: HostTensor;
}

/**
 * Which patches (pixel rectangles of an image of `size`) search the windows too: those whose longer
 * relative side is under `below` and that a window wholly holds (with 2x2 windows of 0.6, every patch
 * under 0.2 is held by one). Undefined when none does.
 */
export function planZoom(rects: readonly CropRect[], size: { width: number; height: number }, spec: ZoomSpec): ZoomPlan | undefined {
  const windows = zoomWindows(spec.grid, spec.side);
  const byWindow = new Map<number, number[]>();
  const relative = rects.map(([x0, y0, x1, y1]): RelativeRect => [x0 / size.width, y0 / size.height, x1 / size.width, y1 / size.height]);
  relative.forEach((rect, index) => {
    if (Math.max(rect[2] - rect[0], rect[3] - rect[1]) >= spec.below) return;
    const window = queryWindow(rect, windows);
    if (window === undefined) return;
    const at = windows.indexOf(window);
    byWindow.set(at, [...(byWindow.get(at) ?? []), index]);
  });
  if (byWindow.size === 0) return undefined;
  const groups = [...byWindow.entries()].sort(([a], [b]) => a - b).map(([window, patches]) => ({ window, patches }));
  const zoomed = groups.flatMap((group) => group.patches);
  const data = new Float32Array(zoomed.length * 4);
  let row = 0;
  for (const group of groups) {
    const window = windows[group.window] ?? WHOLE_IMAGE;
    for (const index of group.patches) data.set(toWindow(relative[index] ?? WHOLE_IMAGE, window), 4 * row++);
  }
  return { windows, groups, zoomed, windowBoxes: { data, dims: [1, zoomed.length, 4] } };
}

/** A detection of one view, its box [x0, y0, x1, y1] relative to the image (for the merge). */
export type ViewCandidate = ScoredBox & { detection: Detection };

/**
 * One view's detections (boxes relative to the view: detectionsOf at size 1x1) -> candidates relative to
 * the image: each box clamped to its view first, as the reference does.
 */
export function viewCandidates(detections: readonly Detection[], window: RelativeRect): ViewCandidate[] {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return detections.map((detection) => {
    const { x, y, width, height } = detection.box;
    const box = fromWindow([clamp(x), clamp(y), clamp(x + width), clamp(y + height)], window);
    return { box, score: detection.score, detection };
  });
}

/** The views' candidates merged by NMS at `iou`, the best `keep`, as detections in the image's pixels. */
export function mergedDetections(candidates: readonly ViewCandidate[], iou: number, keep: number, size: { width: number; height: number }): Detection[] {
  return mergeViews(candidates, iou, keep).map(({ box: [x0, y0, x1, y1], detection }) => ({
    ...detection,
    box: { x: x0 * size.width, y: y0 * size.height, width: (x1 - x0) * size.width, height: (y1 - y0) * size.height },
  }));
}
