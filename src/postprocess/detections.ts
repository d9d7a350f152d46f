/**
 * Raw model outputs -> the public Detection list: the official post-processing (src/postprocess/postprocess.ts),
 * the package's class-wise duplicate suppression (manifest output.duplicateIou, if any), then the caller's
 * threshold, class filter and limit. For one-shot runs, queries come in one
 * group per patch (UP-DETR's grouped queries), so each group is post-processed on its own.
 */
import type { Detection, DetectOptions, RawOutputs } from '../api/types.js';
import { InputError } from '../errors.js';
import type { Manifest } from '../package/manifest.js';
import type { HostTensor } from '../runtime/runner.js';
import { greedyNms } from './merge-views.js';
import { postprocessSigmoidTopK, postprocessSoftmax, type ImageSize, type RawDetection } from './postprocess.js';

export const DEFAULT_THRESHOLD = 0.5;
export const DEFAULT_MAX_DETECTIONS = 100;

export interface ResolvedDetectOptions {
  threshold: number;
  maxDetections: number;
  classes: ReadonlySet<number> | undefined;
  raw: boolean;
}

export function resolveDetectOptions(manifest: Manifest, options: DetectOptions = {}): ResolvedDetectOptions {
  const threshold = options.threshold ?? manifest.output.scoreThreshold ?? DEFAULT_THRESHOLD;
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) throw new InputError(`threshold must be in [0, 1], got ${threshold}`);
  const maxDetections = options.maxDetections ?? DEFAULT_MAX_DETECTIONS;
  if (!Number.isInteger(maxDetections) || maxDetections < 0)
    throw new InputError(`maxDetections must be a non-negative integer, got ${maxDetections}`);
  let classes: Set<number> | undefined;
  if (options.classes !== undefined) {
    classes = new Set();
    const names = manifest.output.classNames;
    for (const wanted of options.classes) {
      if (typeof wanted === 'number') {
        if (!Number.isInteger(wanted) || wanted < 0 || wanted >= names.length)
          throw new InputError(`class id ${wanted} is not one of the model's 0..${names.length - 1}`);
        classes.add(wanted);
        continue;
      }
      let found = false;
      names.forEach((name, id) => {
        if (name === wanted) {
          classes?.add(id);
          found = true;
        }
      });
      if (!found) throw new InputError(`class "${wanted}" is not one of the model's classes`);
    }
  }
  return { threshold, maxDetections, classes, raw: options.raw ?? false };
}

/** The package's logits and boxes (manifest output.logits / output.boxes) among a pipeline's outputs. */
export interface ModelOutputs {
  logits: HostTensor;
  boxes: HostTensor;
}

export function modelOutputs(manifest: Manifest, pipeline: string, outputs: Record<string, HostTensor>): ModelOutputs {
  const logits = outputs[manifest.output.logits];
  const boxes = outputs[manifest.output.boxes];
  if (logits === undefined || boxes === undefined) throw new InputError(`pipeline ${pipeline} gave no logits/boxes`);
  return { logits, boxes };
}

/** [1, Q, C] logits + [1, Q, 4] boxes -> query count and class count, checked. */
export function outputShape(logits: HostTensor, boxes: HostTensor): { queries: number; classes: number } {
  const queries = logits.dims[1] ?? 0;
  const classes = logits.dims[2] ?? 0;
  if (logits.dims.length !== 3 || boxes.dims.length !== 3 || boxes.dims[1] !== queries || boxes.dims[2] !== 4) {
    throw new InputError(`model outputs have unexpected shapes: logits [${logits.dims.join(', ')}], boxes [${boxes.dims.join(', ')}]`);
  }
  return { queries, classes };
}

/** Post-process queries [first, first + count) of one run. */
export function detectionsOf(
  manifest: Manifest,
  logits: HostTensor,
  boxes: HostTensor,
  size: ImageSize,
  options: ResolvedDetectOptions,
  first = 0,
  count?: number,
): Detection[] {
  const { queries, classes } = outputShape(logits, boxes);
  const n = count ?? queries - first;
  const groupLogits = logits.data.subarray(first * classes, (first + n) * classes);
  const groupBoxes = boxes.data.subarray(first * 4, (first + n) * 4);
  let raw: RawDetection[];
  if (manifest.output.classActivation === 'sigmoid') {
    raw = postprocessSigmoidTopK(groupLogits, groupBoxes, n, classes, size, manifest.output.topK ?? DEFAULT_MAX_DETECTIONS);
  } else {
    raw = postprocessSoftmax(groupLogits, groupBoxes, n, classes, size);
  }
  const duplicateIou = manifest.output.duplicateIou;
  if (duplicateIou !== undefined) raw = suppressDuplicates(raw, duplicateIou);
  const names = manifest.output.classNames;
  const out: Detection[] = [];
  for (const detection of raw) {
    if (out.length >= options.maxDetections) break;
    if (!(detection.score >= options.threshold)) continue;
    if (options.classes !== undefined && !options.classes.has(detection.classId)) continue;
    out.push({
      box: detection.box,
      score: detection.score,
      label: names[detection.classId] ?? `class ${detection.classId}`,
      classId: detection.classId,
    });
  }
  return out;
}

/**
 * Class-wise greedy NMS over the top-k list (sorted by score, ties in top-k order; the order is kept):
 * a box goes if a kept box of its class overlaps it with IoU above `iou`. It runs before the threshold,
 * class filter and limit: a suppressor always scores at least as high as the box it drops, so the boxes
 * above any threshold are the same as if it ran after the cut, and the limit counts only survivors, as
 * tools/webdetr_tools/training/evaluate.py's postprocess does with the same IoU.
 */
export function suppressDuplicates(raw: readonly RawDetection[], iou: number): RawDetection[] {
  const candidates = raw.map((detection) => {
    const { x, y, width, height } = detection.box;
    return { detection, score: detection.score, box: [x, y, x + width, y + height] as const };
  });
  return greedyNms(candidates, iou, undefined, (kept, candidate) => kept.detection.classId === candidate.detection.classId).map(
    (candidate) => candidate.detection,
  );
}

/** queries: keep only the first `queries` queries (a one-shot package's filled patch slots are dropped). */
export function rawOutputs(logits: HostTensor, boxes: HostTensor, queries?: number): RawOutputs {
  const keep = (tensor: HostTensor): [Float32Array, number[]] => {
    const [batch = 1, count = 0, width = 0] = tensor.dims;
    if (queries === undefined || queries >= count) return [Float32Array.from(tensor.data), [...tensor.dims]];
    const kept = new Float32Array(batch * queries * width);
    for (let b = 0; b < batch; b++) kept.set(tensor.data.subarray(b * count * width, (b * count + queries) * width), b * queries * width);
    return [kept, [batch, queries, width]];
  };
  const [logitsData, logitsDims] = keep(logits);
  const [boxesData, boxesDims] = keep(boxes);
  return { logits: logitsData, logitsDims, boxes: boxesData, boxesDims };
}
