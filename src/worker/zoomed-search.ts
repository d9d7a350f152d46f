/**
 * Zoomed search for small query patches (manifest input.queryPatch.zoom; the Python reference is
 * tools/webdetr_tools/oneshot/runtime_path.py ZoomedDetector). The one-shot model draws no box under ~7 % of its
 * input side, so a patch smaller than `below` of the image also searches grid x grid overlapping
 * windows, each stretched to the model input. Its descriptors are pooled in the window that holds it
 * (so query and targets are seen at the same zoom) and decoded in every window; every view's boxes,
 * clamped to the view and mapped back to the image, are merged by NMS.
 *
 * All of it is here behind `createZoomedSearch`: the engine calls `search` before it encodes the whole
 * image, then asks the result for each patch's merged detections. The window geometry is
 * src/geometry/zoom-windows.ts, the NMS src/postprocess/merge-views.ts.
 */
import type { Detection, StageTimings } from '../api/types.js';
import { InputError } from '../errors.js';
import { fromWindow, queryWindow, toWindow, WHOLE_IMAGE, zoomWindows, type RelativeRect } from '../geometry/zoom-windows.js';
import type { CropRect } from '../kernels/bilinear-options.js';
import type { Manifest, ZoomSpec } from '../package/manifest.js';
import { isBoxQueryPatch, ZOOM_PIPELINES } from '../package/query-patch.js';
import { detectionsOf, modelOutputs, type ModelOutputs, type ResolvedDetectOptions } from '../postprocess/detections.js';
import { mergeViews, type ScoredBox } from '../postprocess/merge-views.js';
import type { HostTensor, PackageRunner } from '../runtime/runner.js';
import type { ImageEncoding } from './image-encoding.js';
import type { StoredImage } from './image-store.js';
import type { Preprocessor } from './preprocessor.js';
import { addStages } from './timings.js';

/** Zoomed search (box packages with input.queryPatch.zoom): the two halves of the patches pipeline. */
export interface ZoomPipelines {
  spec: ZoomSpec;
  /** Patch boxes -> their descriptors, pooled from the encoded view. */
  describe: string;
  /** Descriptors pooled in another view (+ the patch boxes there) -> logits and boxes in the encoded view. */
  fromDescriptors: string;
}

/** The zoom pipelines of a box package with input.queryPatch.zoom (manifest.ts checks both exist); else undefined. */
export function zoomPipelinesOf(manifest: Manifest): ZoomPipelines | undefined {
  const spec = manifest.input.queryPatch;
  if (spec === undefined || !isBoxQueryPatch(spec) || spec.zoom === undefined) return undefined;
  return { spec: spec.zoom, describe: ZOOM_PIPELINES.describe, fromDescriptors: ZOOM_PIPELINES.fromDescriptors };
}

export interface ZoomedSearch {
  /**
   * Searches the windows for the small patches among `rects` (source-pixel rectangles of `image`, one per
   * query patch; none small: nothing runs). Leaves no image encoded. The result merges each patch's
   * whole-image view with its window views.
   */
  search(image: StoredImage, rects: readonly CropRect[], options: ResolvedDetectOptions, timings: StageTimings): Promise<ZoomedViews>;
}

export interface ZoomedViews {
  /**
   * Patch `index`'s detections in the image's pixels: its queries of the whole-image view (`whole`, the
   * patches pipeline's outputs) and of every window, clamped to their views and merged by NMS.
   * `views`: how many views searched it (1 when it was not small).
   */
  patch(index: number, whole: ModelOutputs): { detections: Detection[]; views: number };
}

export interface ZoomedSearchContext {
  manifest: Manifest;
  runner: PackageRunner;
  preprocessor: Preprocessor;
  /** Encodes each window view with the package's image pipeline. */
  encoding: ImageEncoding;
  pipelines: ZoomPipelines;
  queriesPerPatch: number;
}

/** Each view's boxes are post-processed relative to it (a 1x1 image) and all kept until the merge. */
const UNIT_SIZE = { width: 1, height: 1 };
const DESCRIPTORS = 'patch_descriptors';
const allOf = (options: ResolvedDetectOptions): ResolvedDetectOptions => ({ ...options, maxDetections: Number.MAX_SAFE_INTEGER });

export function createZoomedSearch(context: ZoomedSearchContext): ZoomedSearch {
  const { manifest, runner, preprocessor, encoding, pipelines, queriesPerPatch: perPatch } = context;
  const { spec } = pipelines;
  // The package says which of the two it reads (the patch boxes only when its queries or head weigh sizes).
  const fromDescriptorsInputs = manifest.pipelines.find((p) => p.name === pipelines.fromDescriptors)?.inputs ?? [];

  /** Crops `window` of the image, stretched to the model input, and runs the image pipeline on it. */
  async function encodeWindow(image: StoredImage, window: RelativeRect, timings: StageTimings): Promise<void> {
    const started = performance.now();
    const input = await preprocessor.window(image, window);
    timings.preprocess += performance.now() - started;
    await encoding.encode(input, timings);
  }

  async function run(pipeline: string, inputs: Record<string, HostTensor>, timings: StageTimings): Promise<Record<string, HostTensor>> {
    const result = await runner.run(pipeline, inputs);
    addStages(timings, result.stages);
    return result.outputs;
  }

  /**
   * Per window holding small patches, encode it and pool their descriptors there; then, in every window,
   * decode all of them. Returns each small patch's candidates from all windows (boxes relative to the image).
   */
  async function searchWindows(
    image: StoredImage,
    plan: ZoomPlan,
    options: ResolvedDetectOptions,
    timings: StageTimings,
  ): Promise<Map<number, ViewCandidate[]>> {
    const { windows, groups, zoomed, windowBoxes } = plan;
    const descriptorParts: HostTensor[] = [];
    let encoded: number | undefined;
    let first = 0;
    for (const group of groups) {
      await encodeWindow(image, windows[group.window] ?? WHOLE_IMAGE, timings);
      encoded = group.window;
      // The groups' rows of windowBoxes are contiguous (zoomed = the groups concatenated).
      const count = group.patches.length;
      const boxes: HostTensor = { data: windowBoxes.data.slice(4 * first, 4 * (first + count)), dims: [1, count, 4] };
      first += count;
      const part = (await run(pipelines.describe, { patches: boxes }, timings))[DESCRIPTORS];
      if (part === undefined) throw new InputError(`pipeline ${pipelines.describe} gave no ${DESCRIPTORS}`);
      descriptorParts.push(part);
    }
    const width = descriptorParts[0]?.dims[2] ?? 0;
    const descriptors: HostTensor = { data: new Float32Array(zoomed.length * width), dims: [1, zoomed.length, width] };
    let offset = 0;
    for (const part of descriptorParts) {
      descriptors.data.set(part.data, offset);
      offset += part.data.length;
    }
    const known: Record<string, HostTensor> = { [DESCRIPTORS]: descriptors, patches: windowBoxes };
    const inputs = Object.fromEntries(
      fromDescriptorsInputs.map((name) => {
        const tensor = known[name];
        if (tensor === undefined)
          throw new InputError(
            `pipeline ${pipelines.fromDescriptors} reads ${name}; zoomed search passes only ${Object.keys(known).join(' and ')}`,
          );
        return [name, tensor];
      }),
    );
    const candidates = new Map<number, ViewCandidate[]>(zoomed.map((index) => [index, []]));
    // The window encoded last is searched first: one encoding fewer.
    const order = windows.map((_, index) => index).sort((a, b) => Number(b === encoded) - Number(a === encoded));
    // Thresholding before the merge keeps the same boxes: NMS only lets higher scores suppress lower ones.
    const all = allOf(options);
    for (const index of order) {
      const window = windows[index] ?? WHOLE_IMAGE;
      if (index !== encoded) await encodeWindow(image, window, timings);
      encoded = index;
      const { logits, boxes } = modelOutputs(manifest, pipelines.fromDescriptors, await run(pipelines.fromDescriptors, inputs, timings));
      zoomed.forEach((patch, j) => {
        candidates
          .get(patch)
          ?.push(...viewCandidates(detectionsOf(manifest, logits, boxes, UNIT_SIZE, all, j * perPatch, perPatch), window));
      });
    }
    return candidates;
  }

  return {
    async search(image, rects, options, timings) {
      const size = { width: image.prepared.width, height: image.prepared.height };
      const plan = planZoom(rects, size, spec);
      const windowCandidates = plan === undefined ? new Map<number, ViewCandidate[]>() : await searchWindows(image, plan, options, timings);
      return {
        patch(index, { logits, boxes }) {
          // Every patch's boxes, small or not, are clamped to the image and merged by NMS, as the reference does.
          const whole = viewCandidates(
            detectionsOf(manifest, logits, boxes, UNIT_SIZE, allOf(options), index * perPatch, perPatch),
            WHOLE_IMAGE,
          );
          const windows = windowCandidates.get(index);
          return {
            detections: mergedDetections([...whole, ...(windows ?? [])], spec.nmsIou, options.maxDetections, size),
            views: windows === undefined ? 1 : 1 + (plan?.windows.length ?? 0),
          };
        },
      };
    },
  };
}

// The pure parts: which patches zoom into which window, and how the views' boxes merge (test/worker/zoomed-search.test.ts).

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
export function mergedDetections(
  candidates: readonly ViewCandidate[],
  iou: number,
  keep: number,
  size: { width: number; height: number },
): Detection[] {
  return mergeViews(candidates, iou, keep).map(({ box: [x0, y0, x1, y1], detection }) => ({
    ...detection,
    box: { x: x0 * size.width, y: y0 * size.height, width: (x1 - x0) * size.width, height: (y1 - y0) * size.height },
  }));
}
