/**
 * Zoomed search geometry (tools/webdetr_tools/oneshot/zoom.py is the reference): overlapping square
 * windows of an image, each searched stretched to the model input so a small object is seen larger.
 * Rectangles here are [x0, y0, x1, y1] relative to the image (0..1), or to a window. Bad window specs
 * throw RangeError (this layer imports types only); the API turns a caller's into an InputError.
 */
export type RelativeRect = readonly [number, number, number, number];

export const WHOLE_IMAGE: RelativeRect = [0, 0, 1, 1];

/** grid x grid square windows of `side`, spaced evenly from edge to edge, rows first. */
export function zoomWindows(grid: number, side: number): RelativeRect[] {
  if (!Number.isInteger(grid) || grid < 1) throw new RangeError(`zoom grid must be a whole number >= 1, got ${grid}`);
  if (!(side > 0 && side <= 1) || grid * side < 1) {
    throw new RangeError(`${grid} zoom windows of side ${side} do not cover the image (need 0 < side <= 1 and grid * side >= 1)`);
  }
  const offsets = grid === 1 ? [0] : Array.from({ length: grid }, (_, k) => (k * (1 - side)) / (grid - 1));
  return offsets.flatMap((y) => offsets.map((x): RelativeRect => [x, y, x + side, y + side]));
}

/** The window wholly holding `rect` whose centre is nearest the rect's; undefined when none holds it. */
export function queryWindow(rect: RelativeRect, windows: readonly RelativeRect[]): RelativeRect | undefined {
  const [x0, y0, x1, y1] = rect;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  let best: RelativeRect | undefined;
  let bestDistance = Infinity;
  for (const w of windows) {
    if (!(w[0] <= x0 && w[1] <= y0 && w[2] >= x1 && w[3] >= y1)) continue;
    const distance = ((w[0] + w[2]) / 2 - cx) ** 2 + ((w[1] + w[3]) / 2 - cy) ** 2;
    // Strictly nearer: on a tie the first window (rows first) wins, as Python's min() picks it.
    if (distance < bestDistance) {
      best = w;
      bestDistance = distance;
    }
  }
  return best;
}

/** `rect` (relative to the image) relative to `window`. */
export function toWindow(rect: RelativeRect, window: RelativeRect): RelativeRect {
  const [wx0, wy0, wx1, wy1] = window;
  const w = wx1 - wx0;
  const h = wy1 - wy0;
  return [(rect[0] - wx0) / w, (rect[1] - wy0) / h, (rect[2] - wx0) / w, (rect[3] - wy0) / h];
}

/** `rect` (relative to `window`) relative to the image. */
export function fromWindow(rect: RelativeRect, window: RelativeRect): RelativeRect {
  const [wx0, wy0, wx1, wy1] = window;
  const w = wx1 - wx0;
  const h = wy1 - wy0;
  return [wx0 + rect[0] * w, wy0 + rect[1] * h, wx0 + rect[2] * w, wy0 + rect[3] * h];
}
