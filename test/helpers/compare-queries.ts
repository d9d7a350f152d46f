/**
 * RT-DETR outputs against a reference with top-k ties allowed (moved out of rtdetr-fixture.ts, which runs Python,
 * so that the bench page can import it in the browser).
 */

/** The whole-model tolerances. */
export const RTDETR_TOLERANCE = { logits: 1e-3, boxes: 1e-4 };

/** Max differences row by row, and (when that fails) with rows matched one-to-one as a set (top-k ties). */
export function compareQueries(
  logits: Float32Array,
  boxes: Float32Array,
  wantLogits: Float32Array,
  wantBoxes: Float32Array,
  classes: number,
): { logits: number; boxes: number; asSet: boolean } {
  const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((max, v, i) => Math.max(max, Math.abs(v - (b[i] ?? NaN))), 0);
  const direct = { logits: maxAbsDiff(logits, wantLogits), boxes: maxAbsDiff(boxes, wantBoxes), asSet: false };
  if (direct.logits <= RTDETR_TOLERANCE.logits && direct.boxes <= RTDETR_TOLERANCE.boxes) return direct;
  const queries = boxes.length / 4;
  const rowDiff = (a: Float32Array, b: Float32Array, width: number, i: number, j: number) => {
    let max = 0;
    for (let c = 0; c < width; c++) max = Math.max(max, Math.abs((a[i * width + c] ?? 0) - (b[j * width + c] ?? 0)));
    return max;
  };
  const used = new Set<number>();
  const result = { logits: 0, boxes: 0, asSet: true };
  for (let want = 0; want < queries; want++) {
    let best = -1;
    let bestScore = Infinity;
    for (let got = 0; got < queries; got++) {
      if (used.has(got)) continue;
      const score = Math.max(
        rowDiff(logits, wantLogits, classes, got, want) / RTDETR_TOLERANCE.logits,
        rowDiff(boxes, wantBoxes, 4, got, want) / RTDETR_TOLERANCE.boxes,
      );
      if (score < bestScore) [best, bestScore] = [got, score];
    }
    used.add(best);
    result.logits = Math.max(result.logits, rowDiff(logits, wantLogits, classes, best, want));
    result.boxes = Math.max(result.boxes, rowDiff(boxes, wantBoxes, 4, best, want));
  }
  return result;
}
