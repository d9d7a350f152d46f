/**
 * Merging the boxes of several views of one image (zoomed search: the whole image and its windows):
 * greedy non-maximum suppression over all of them, then the best `keep`; the same greedy rule, per
 * class, is a package's duplicate suppression (manifest output.duplicateIou). The same rule as
 * torchvision.ops.nms, which the Python reference (tools/webdetr_tools/oneshot/zoom.py) uses: visit boxes
 * by descending score, drop every later box whose IoU with a kept one is above `iou`.
 */

/** A candidate box, [x0, y0, x1, y1] in one coordinate frame for all views, with its score. */
export interface ScoredBox {
  box: readonly [number, number, number, number];
  score: number;
}

export function boxIou(a: ScoredBox['box'], b: ScoredBox['box']): number {
  const areaA = Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
  const areaB = Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const overlap = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const union = areaA + areaB - overlap;
  return union > 0 ? overlap / union : 0;
}

/**
 * The views' candidates suppressed at `iou` and cut to the best `keep`, best first. Equal scores keep
 * their input order (views in the order given), so the result does not depend on sort stability.
 */
export function mergeViews<T extends ScoredBox>(candidates: readonly T[], iou: number, keep: number): T[] {
  if (!(iou >= 0 && iou <= 1)) throw new RangeError(`mergeViews: iou must be in [0, 1], got ${iou}`);
  return greedyNms(candidates, iou, keep);
}

/**
 * Greedy NMS, the one rule both the views' merge and the detector's class-wise duplicate suppression
 * (src/postprocess/detections.ts) use: visit by descending score, equal scores in input order, and keep
 * a box unless a kept box that `competes` with it (default: any) overlaps it with IoU above `iou`;
 * stop at `keep` kept boxes. Kept boxes come best first.
 */
export function greedyNms<T extends ScoredBox>(
  candidates: readonly T[],
  iou: number,
  keep = Number.POSITIVE_INFINITY,
  competes: (kept: T, candidate: T) => boolean = () => true,
): T[] {
  const order = candidates.map((_, index) => index).sort((a, b) => (candidates[b]?.score ?? 0) - (candidates[a]?.score ?? 0) || a - b);
  const kept: T[] = [];
  for (const index of order) {
    if (kept.length >= keep) break;
    const candidate = candidates[index];
    if (candidate === undefined) continue;
    if (kept.every((other) => !competes(other, candidate) || boxIou(other.box, candidate.box) <= iou)) kept.push(candidate);
  }
  return kept;
}
