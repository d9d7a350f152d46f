/**
 * One CLI run over N images, shared by both places the CLI runs a model: Node (the WASM backend, no
 * browser: cli/node/) and the chromium page (`--backend webgpu`: cli/page/). The model is loaded once;
 * each image's outcome is handed to `onResult` as soon as it is known, so the driver can stream it;
 * an image that cannot be read or detected on is reported and the batch goes on. Results are
 * JSON-safe (typed arrays → number arrays, errors → { code, name, message }) for the trip out of the
 * page and for printing.
 */
import type {
  BackendInfo,
  BackendPreference,
  Detection,
  DetectionResult,
  DetectOptions,
  ModelInfo,
  OneShotResult,
  PatchDetections,
  PreparedImage,
  QueryPatch,
  StageTimings,
} from '../../src/api/types.js';

export interface CliRequest {
  modelUrl: string;
  backend: BackendPreference;
  /** url: where the page fetches it (chromium); Node reads `name` from disk. patches: this image's own (--patches-file). */
  images: { name: string; url?: string; patches?: QueryPatch[] }[];
  patches: QueryPatch[];
  /** Absent: the model's suggested score. */
  threshold?: number;
  maxDetections: number;
  /** false: no zoomed search (--no-zoom); absent: the package's default. */
  zoom?: boolean;
  raw: boolean;
}

export interface CliRaw {
  logits: number[];
  logitsDims: number[];
  boxes: number[];
  boxesDims: number[];
}

/** The best candidate below the threshold, when nothing reached it (so "none" says how far off it was). */
export interface CliBest {
  score: number;
  label: string;
}

export interface CliPatchDetections extends PatchDetections {
  best?: CliBest;
}

export interface CliImageResult {
  image: string;
  imageSize: { width: number; height: number };
  /** Plain detection (no --patch). Boxes are clamped to the picture. */
  detections?: Detection[];
  /** One-shot (--patch): per patch. */
  patches?: CliPatchDetections[];
  /** Plain detection with no detection at or above the threshold: the best score below it. */
  best?: CliBest;
  reusedImageFeatures?: boolean;
  timings: StageTimings;
  backend: BackendInfo;
  raw?: CliRaw;
}

export interface CliError {
  code: string;
  name: string;
  message: string;
  /** Which step failed: loading the model, reading an image, or detecting on it. */
  stage: 'load' | 'image' | 'detect';
  image?: string;
}

/** An image the batch could not finish; the others go on. */
export interface CliImageFailure {
  image: string;
  error: CliError;
}

export type CliImageOutcome = CliImageResult | CliImageFailure;

export const isFailure = (outcome: CliImageOutcome): outcome is CliImageFailure => 'error' in outcome;

/** What is known once the model is loaded, before the first image. */
export interface CliLoaded {
  model: ModelInfo;
  backend: BackendInfo;
  loadMs: number;
  /** The threshold in force: --threshold, else the model's suggested score. */
  threshold: number;
}

export type CliResponse =
  | ({ ok: boolean; failed: number; results: CliImageOutcome[] } & CliLoaded)
  | { ok: false; error: CliError; failed: 0; results: [] };

/**
 * What runCli needs of a detector: the public Detector's calls, with the image type left open (a
 * Blob in the page, decoded RGBA bytes in Node).
 */
export interface CliDetector<Image> {
  readonly model: ModelInfo;
  readonly backend: BackendInfo;
  detect(image: Image | PreparedImage, options?: DetectOptions): Promise<DetectionResult>;
  detectWithPatches(image: Image | PreparedImage, patches: readonly QueryPatch[], options?: DetectOptions): Promise<OneShotResult>;
  prepareImage(image: Image): Promise<PreparedImage>;
  dispose(): Promise<void>;
}

export interface CliHost<Image> {
  /** Loads the model (progress is the host's business). */
  open(request: CliRequest): Promise<CliDetector<Image>>;
  /** Reads and decodes one image; throws for an unreadable or undecodable one. */
  read(image: CliRequest['images'][number]): Promise<Image>;
  onLoaded?(loaded: CliLoaded): void;
  onResult?(outcome: CliImageOutcome, index: number): void;
}

export function toCliError(error: unknown, stage: CliError['stage'], image?: string): CliError {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  return {
    code: typeof e?.code === 'string' ? e.code : 'error',
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    stage,
    ...(image === undefined ? {} : { image }),
  };
}

/**
 * A box clamped to the picture [0, width] x [0, height], as the demo and the embed draw it: a model
 * may place a box partly outside the image (x = -4.1), which is no pixel of it.
 */
export function clampBox(box: Detection['box'], size: { width: number; height: number }): Detection['box'] {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const x0 = clamp(box.x, size.width);
  const y0 = clamp(box.y, size.height);
  const x1 = clamp(box.x + box.width, size.width);
  const y1 = clamp(box.y + box.height, size.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The detections at or above the threshold, boxes clamped, and the best one below it when none
 * reached it. The engine was asked for threshold 0: its list is sorted by score and the threshold
 * only cuts it (zoomed search's NMS visits boxes by score, so a box below the threshold never
 * suppresses one above it), so cutting here gives the same detections as asking with the threshold.
 */
export function applyThreshold(
  all: readonly Detection[],
  threshold: number,
  size: { width: number; height: number },
): { detections: Detection[]; best?: CliBest } {
  const detections = all.filter((d) => d.score >= threshold).map((d) => ({ ...d, box: clampBox(d.box, size) }));
  const top = all[0];
  return detections.length === 0 && top !== undefined ? { detections, best: { score: top.score, label: top.label } } : { detections };
}

export async function runCli<Image>(request: CliRequest, host: CliHost<Image>): Promise<CliResponse> {
  const results: CliImageOutcome[] = [];
  const started = performance.now();
  // The next image is read while the engine works: the first while the model loads (the Node host
  // starts its JPEG worker thread then), each later one while the image before it is detected on.
  // At most two decoded images are held at once.
  const read = (image: CliRequest['images'][number]): Promise<ReadImage<Image>> =>
    host.read(image).then(
      (pixels) => ({ pixels }),
      (error: unknown) => ({ error: toCliError(error, 'image', image.name) }),
    );
  let next = request.images[0] === undefined ? undefined : read(request.images[0]);
  let detector: CliDetector<Image>;
  try {
    detector = await host.open(request);
  } catch (error) {
    return { ok: false, error: toCliError(error, 'load'), failed: 0, results: [] };
  }
  const loaded: CliLoaded = {
    model: detector.model,
    backend: detector.backend,
    loadMs: performance.now() - started,
    threshold: request.threshold ?? detector.model.scoreThreshold,
  };
  host.onLoaded?.(loaded);
  let failed = 0;
  try {
    const options = {
      // Threshold 0, cut here: see applyThreshold.
      threshold: 0,
      ...(request.zoom === undefined ? {} : { zoom: request.zoom }),
      maxDetections: request.maxDetections,
      raw: request.raw,
    };
    for (const [index, image] of request.images.entries()) {
      const current = await (next as Promise<ReadImage<Image>>);
      const following = request.images[index + 1];
      next = following === undefined ? undefined : read(following);
      const outcome = await runImage(detector, request, image, current, options, loaded.threshold);
      if (isFailure(outcome)) failed++;
      results.push(outcome);
      host.onResult?.(outcome, index);
    }
    return { ok: failed === 0, failed, ...loaded, results };
  } finally {
    await detector.dispose().catch(() => undefined);
  }
}

type ReadImage<Image> = { pixels: Image } | { error: CliError };

async function runImage<Image>(
  detector: CliDetector<Image>,
  request: CliRequest,
  image: CliRequest['images'][number],
  read: ReadImage<Image>,
  options: DetectOptions & { maxDetections: number; raw: boolean },
  threshold: number,
): Promise<CliImageOutcome> {
  if ('error' in read) return { image: image.name, error: read.error };
  const { pixels } = read;
  try {
    const patches = image.patches ?? request.patches;
    if (patches.length > 0) return await detectPatchesInChunks(detector, pixels, image.name, patches, options, threshold);
    const r = await detector.detect(pixels, options);
    return {
      image: image.name,
      imageSize: r.imageSize,
      ...applyThreshold(r.detections, threshold, r.imageSize),
      timings: r.timings,
      backend: r.backend,
      ...(r.raw ? { raw: plainRaw(r.raw) } : {}),
    };
  } catch (error) {
    return { image: image.name, error: toCliError(error, 'detect', image.name) };
  }
}

/**
 * More patches than the model takes at once run in chunks of maxPatches on one prepared image, so the
 * image is encoded once; per-patch results are concatenated in order (raw outputs: the first chunk's).
 */
async function detectPatchesInChunks<Image>(
  detector: CliDetector<Image>,
  pixels: Image,
  name: string,
  patches: readonly QueryPatch[],
  options: DetectOptions,
  threshold: number,
): Promise<CliImageResult> {
  const size = Math.max(1, detector.model.maxPatches);
  const prepared = patches.length > size ? await detector.prepareImage(pixels) : undefined;
  let result: CliImageResult | undefined;
  for (let start = 0; start < patches.length; start += size) {
    const r = await detector.detectWithPatches(prepared ?? pixels, patches.slice(start, start + size), options);
    const groups = r.patches.map((group) => ({ ...group, ...applyThreshold(group.detections, threshold, r.imageSize) }));
    if (result === undefined) {
      result = {
        image: name,
        imageSize: r.imageSize,
        patches: groups,
        reusedImageFeatures: r.reusedImageFeatures,
        timings: r.timings,
        backend: r.backend,
        ...(r.raw ? { raw: plainRaw(r.raw) } : {}),
      };
    } else {
      result.patches?.push(...groups);
    }
  }
  if (result === undefined) throw new Error('no patches');
  return result;
}

function plainRaw(raw: { logits: Float32Array; logitsDims: number[]; boxes: Float32Array; boxesDims: number[] }): CliRaw {
  return { logits: Array.from(raw.logits), logitsDims: [...raw.logitsDims], boxes: Array.from(raw.boxes), boxesDims: [...raw.boxesDims] };
}
