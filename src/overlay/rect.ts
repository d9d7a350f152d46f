/**
 * Query-patch rectangles in picture pixels for the patch editor (demo and <web-detr>): drag corners
 * to a rectangle, clamp it into the picture, hit-test. Mapping between picture and surface pixels is
 * in src/geometry/letterbox.ts.
 */
import type { BoxRect } from '../api/types.js';

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
