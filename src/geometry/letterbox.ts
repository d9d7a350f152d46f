/**
 * Pure geometry between a picture's pixels and the surface it is shown on, shared by the demo
 * (src/ui: a letterboxed stage) and the <web-detr> element (src/embed: a canvas at the picture's own
 * size). A picture is shown "contained" in a fixed-size box, so results never shift the layout;
 * `Fit` is that placement, the helpers map rectangles and points both ways and clip outlines.
 */
import type { BoxRect } from '../api/types.js';

export interface Fit {
  scale: number;
  offsetX: number;
  offsetY: number;
}

/** The placement of `image` scaled to fit inside `stage`, centred (identity for empty sizes). */
export function containFit(stage: { width: number; height: number }, image: { width: number; height: number }): Fit {
  if (image.width <= 0 || image.height <= 0 || stage.width <= 0 || stage.height <= 0) return { scale: 1, offsetX: 0, offsetY: 0 };
  const scale = Math.min(stage.width / image.width, stage.height / image.height);
  return { scale, offsetX: (stage.width - image.width * scale) / 2, offsetY: (stage.height - image.height * scale) / 2 };
}

/** Picture pixels → surface pixels. */
export function toStage(box: BoxRect, fit: Fit): BoxRect {
  return {
    x: fit.offsetX + box.x * fit.scale,
    y: fit.offsetY + box.y * fit.scale,
    width: box.width * fit.scale,
    height: box.height * fit.scale,
  };
}

/** Surface pixels → picture pixels (the inverse of toStage for a point). */
export function toImagePoint(x: number, y: number, fit: Fit): { x: number; y: number } {
  return { x: (x - fit.offsetX) / fit.scale, y: (y - fit.offsetY) / fit.scale };
}

/**
 * Where a box's outline is drawn: its surface rectangle clipped to the picture and pulled in by
 * `inset` (half the line width), so a box reaching or crossing the picture's edge keeps all four
 * sides visible instead of losing one off the canvas. `picture` null: no clipping.
 */
export function outlineRect(box: BoxRect, fit: Fit, picture: { width: number; height: number } | null, inset: number): BoxRect {
  const rect = toStage(box, fit);
  if (picture === null) return rect;
  const left = Math.max(rect.x, fit.offsetX + inset);
  const top = Math.max(rect.y, fit.offsetY + inset);
  const right = Math.min(rect.x + rect.width, fit.offsetX + picture.width * fit.scale - inset);
  const bottom = Math.min(rect.y + rect.height, fit.offsetY + picture.height * fit.scale - inset);
  return { x: left, y: top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}
