/**
 * Post-processing of raw DETR-family outputs into detections, mirroring the official PostProcess
 * modules:
 *  - Deformable-DETR: sigmoid focal logits; the top-k (query, class) pairs over all Q x C scores
 *    (a query may appear with several classes), boxes cxcywh -> xyxy scaled to the image.
 *  - DETR / UP-DETR: softmax over classes with the last one "no object"; each query keeps its best
 *    real class.
 * Pure functions over Float32Arrays so the WASM path and tests share them with the GPU path's
 * CPU tail (only Q x C numbers come back from the GPU).
 */

export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RawDetection {
  /** Index of the decoder query that produced it. */
  query: number;
  classId: number;
  score: number;
  box: PixelBox;
}

export interface ImageSize {
  width: number;
  height: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Normalized (cx, cy, w, h) -> pixel box of the source image (the official box_cxcywh_to_xyxy * size). */
export function cxcywhToPixelBox(boxes: Float32Array, query: number, size: ImageSize): PixelBox {
  const cx = boxes[query * 4] ?? 0;
  const cy = boxes[query * 4 + 1] ?? 0;
  const w = boxes[query * 4 + 2] ?? 0;
  const h = boxes[query * 4 + 3] ?? 0;
  const x0 = (cx - 0.5 * w) * size.width;
  const y0 = (cy - 0.5 * h) * size.height;
  const x1 = (cx + 0.5 * w) * size.width;
  const y1 = (cy + 0.5 * h) * size.height;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * Deformable-DETR: top-`k` over sigmoid(logits) flattened as [Q * C], ties broken by the lower
 * flat index (what torch.topk on CPU returns for equal values is unspecified; we fix an order).
 * `logits` is [Q, C], `boxes` is [Q, 4].
 */
export function postprocessSigmoidTopK(
  logits: Float32Array,
  boxes: Float32Array,
  queries: number,
  classes: number,
  size: ImageSize,
  k: number,
): RawDetection[] {
  const total = queries * classes;
  if (logits.length < total || boxes.length < queries * 4) {
    throw new RangeError(`postprocess: expected ${total} logits and ${queries * 4} box values`);
  }
  const keep = Math.min(k, total);
  // Sigmoid is monotonic: select on logits, convert only the winners.
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  const sorted = Array.from(order).sort((a, b) => (logits[b] ?? 0) - (logits[a] ?? 0) || a - b);
  const out: RawDetection[] = [];
  for (let i = 0; i < keep; i++) {
    const flat = sorted[i] ?? 0;
    const query = Math.floor(flat / classes);
    out.push({ query, classId: flat % classes, score: sigmoid(logits[flat] ?? 0), box: cxcywhToPixelBox(boxes, query, size) });
  }
  return out;
}

/**
 * DETR / UP-DETR: softmax over C classes per query (the last is "no object"), best real class per
 * query, sorted by score (descending, then query index).
 */
export function postprocessSoftmax(
  logits: Float32Array,
  boxes: Float32Array,
  queries: number,
  classes: number,
  size: ImageSize,
): RawDetection[] {
  if (classes < 2) throw new RangeError('postprocess: softmax outputs need at least one class plus no-object');
  if (logits.length < queries * classes || boxes.length < queries * 4) {
    throw new RangeError(`postprocess: expected ${queries * classes} logits and ${queries * 4} box values`);
  }
  const out: RawDetection[] = [];
  for (let q = 0; q < queries; q++) {
    const row = logits.subarray(q * classes, (q + 1) * classes);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    let best = 0;
    for (let c = 1; c < classes - 1; c++) if ((row[c] ?? 0) > (row[best] ?? 0)) best = c;
    out.push({ query: q, classId: best, score: Math.exp((row[best] ?? 0) - max) / sum, box: cxcywhToPixelBox(boxes, q, size) });
  }
  return out.sort((a, b) => b.score - a.score || a.query - b.query);
}
