/**
 * Where label tabs go and in which order they are painted, as pure functions (tested without a
 * canvas). A tab sits above its box; at the picture's top edge it flips inside the box, at the right
 * edge it slides left, so no label is cut off. Boxes are painted lowest score first, so where they
 * overlap the best detection's outline and label are the ones on top.
 */
import type { BoxRect } from '../api/types.js';

export interface Size {
  width: number;
  height: number;
}

/**
 * Top-left corner of a label tab of `tab` size for a box whose outline is `outline` (surface
 * pixels, line centred on it), kept inside `bounds` (the picture on the surface).
 */
export function placeLabel(outline: BoxRect, tab: Size, bounds: BoxRect, lineWidth: number): { x: number; y: number } {
  const half = lineWidth / 2;
  const above = outline.y - half - tab.height;
  // Just inside the top edge when the tab does not fit above it; never below the picture's bottom.
  const y = above >= bounds.y ? above : Math.max(bounds.y, Math.min(outline.y + half, bounds.y + bounds.height - tab.height));
  const right = bounds.x + bounds.width;
  const x = Math.min(Math.max(outline.x - half, bounds.x), Math.max(bounds.x, right - tab.width));
  return { x, y };
}

/**
 * Paint order of boxes with their labels: ascending score, so the highest-scored box and its label
 * land on top; items without a score (query patches) above every scored one, since they are what
 * the user edits (their labels and handles must stay visible among many matches); the highlighted
 * item last of all. Ties keep their input order.
 */
export function paintOrder(items: readonly { score?: number }[], highlight: number | null): number[] {
  const key = (i: number) => items[i]?.score ?? Infinity;
  const order = items.map((_, i) => i).filter((i) => i !== highlight);
  order.sort((a, b) => key(a) - key(b) || a - b);
  if (highlight !== null && highlight >= 0 && highlight < items.length) order.push(highlight);
  return order;
}
