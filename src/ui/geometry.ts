/**
 * The stage shows the image "contained" (letterboxed) in a fixed-size box, so results never shift
 * the layout. These helpers map between source-image pixels and stage CSS pixels.
 */
import type { BoxRect } from '../api/types.js';

export interface Fit {
  scale: number;
  offsetX: number;
  offsetY: number;
}

export function containFit(stage: { width: number; height: number }, image: { width: number; height: number }): Fit {
  if (image.width <= 0 || image.height <= 0 || stage.width <= 0 || stage.height <= 0) return { scale: 1, offsetX: 0, offsetY: 0 };
  const scale = Math.min(stage.width / image.width, stage.height / image.height);
  return { scale, offsetX: (stage.width - image.width * scale) / 2, offsetY: (stage.height - image.height * scale) / 2 };
}

export function toStage(box: BoxRect, fit: Fit): BoxRect {
  return { x: fit.offsetX + box.x * fit.scale, y: fit.offsetY + box.y * fit.scale, width: box.width * fit.scale, height: box.height * fit.scale };
}

/**
 * Where a box's outline is drawn: its stage rectangle clipped to the picture and pulled in by
 * `inset` (half the line width), so a box reaching or crossing the picture's edge keeps all four
 * sides visible instead of losing one off the canvas.
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

export function toImagePoint(x: number, y: number, fit: Fit): { x: number; y: number } {
  return { x: (x - fit.offsetX) / fit.scale, y: (y - fit.offsetY) / fit.scale };
}

/** Clamps a rectangle into the image and rounds it to whole pixels, keeping at least `minSize`. */
export function clampRect(box: BoxRect, image: { width: number; height: number }, minSize: number): BoxRect {
  const width = Math.round(Math.min(Math.max(box.width, minSize), image.width));
  const height = Math.round(Math.min(Math.max(box.height, minSize), image.height));
  const x = Math.round(Math.min(Math.max(box.x, 0), image.width - width));
  const y = Math.round(Math.min(Math.max(box.y, 0), image.height - height));
  return { x, y, width, height };
}

/** Rectangle spanned by two corner points (any drag direction). */
export function rectFromPoints(a: { x: number; y: number }, b: { x: number; y: number }): BoxRect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(b.x - a.x), height: Math.abs(b.y - a.y) };
}

export function contains(box: BoxRect, point: { x: number; y: number }): boolean {
  return point.x >= box.x && point.x <= box.x + box.width && point.y >= box.y && point.y <= box.y + box.height;
}
