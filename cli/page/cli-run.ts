/**
 * What the CLI asks the page to do, and what comes back: the real API on every image, results made
 * JSON-safe (typed arrays → number arrays, errors → { code, name, message }) for the trip to Node.
 */
import type {
  BackendInfo,
  BackendPreference,
  CreateDetectorOptions,
  Detection,
  Detector,
  ModelInfo,
  PatchDetections,
  QueryPatch,
  StageTimings,
} from '../../src/api/types.js';
import type { LoadProgressEvent } from '../../src/package/progress.js';

export interface CliRequest {
  modelUrl: string;
  backend: BackendPreference;
  /** patches: this image's own query patches (--patches-file); else the request's. */
  images: { name: string; url: string; patches?: QueryPatch[] }[];
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

export interface CliImageResult {
  image: string;
  imageSize: { width: number; height: number };
  /** Plain detection (no --patch). */
  detections?: Detection[];
  /** One-shot (--patch): per patch. */
  patches?: PatchDetections[];
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

export type CliResponse =
  | { ok: true; model: ModelInfo; backend: BackendInfo; loadMs: number; results: CliImageResult[] }
  | { ok: false; error: CliError; model?: ModelInfo; results: CliImageResult[] };

export type CreateDetector = (options: CreateDetectorOptions) => Promise<Detector>;

function toCliError(error: unknown, stage: CliError['stage'], image?: string): CliError {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  return {
    code: typeof e?.code === 'string' ? e.code : 'error',
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    stage,
    ...(image === undefined ? {} : { image }),
  };
}

export async function runCli(
  request: CliRequest,
  createDetector: CreateDetector,
  onProgress: (event: LoadProgressEvent) => void,
): Promise<CliResponse> {
  const results: CliImageResult[] = [];
  const started = performance.now();
  let detector: Detector;
  try {
    // A CLI run is a fresh browser profile: the Cache API would only cost time.
    detector = await createDetector({ model: request.modelUrl, backend: request.backend, onProgress, cache: false });
  } catch (error) {
    return { ok: false, error: toCliError(error, 'load'), results };
  }
  const loadMs = performance.now() - started;
  try {
    const options = {
      ...(request.threshold === undefined ? {} : { threshold: request.threshold }),
      ...(request.zoom === undefined ? {} : { zoom: request.zoom }),
      maxDetections: request.maxDetections,
      raw: request.raw,
    };
    for (const image of request.images) {
      let blob: Blob;
      try {
        const response = await fetch(image.url);
        if (!response.ok) throw new Error(`could not read ${image.name}: HTTP ${response.status}`);
        blob = await response.blob();
      } catch (error) {
        return { ok: false, error: toCliError(error, 'image', image.name), model: detector.model, results };
      }
      try {
        const patches = image.patches ?? request.patches;
        if (patches.length > 0) {
          results.push(await detectPatchesInChunks(detector, blob, image.name, patches, options));
        } else {
          const r = await detector.detect(blob, options);
          results.push({
            image: image.name,
            imageSize: r.imageSize,
            detections: r.detections,
            timings: r.timings,
            backend: r.backend,
            ...(r.raw ? { raw: plainRaw(r.raw) } : {}),
          });
        }
      } catch (error) {
        return { ok: false, error: toCliError(error, 'detect', image.name), model: detector.model, results };
      }
    }
    return { ok: true, model: detector.model, backend: detector.backend, loadMs, results };
  } finally {
    await detector.dispose().catch(() => undefined);
  }
}

/**
 * More patches than the model takes at once run in chunks of maxPatches on one prepared image, so the
 * image is encoded once; per-patch results are concatenated in order (raw outputs: the first chunk's).
 */
async function detectPatchesInChunks(
  detector: Detector,
  blob: Blob,
  name: string,
  patches: readonly QueryPatch[],
  options: { threshold?: number; zoom?: boolean; maxDetections: number; raw: boolean },
): Promise<CliImageResult> {
  const size = Math.max(1, detector.model.maxPatches);
  const prepared = patches.length > size ? await detector.prepareImage(blob) : undefined;
  let result: CliImageResult | undefined;
  for (let start = 0; start < patches.length; start += size) {
    const r = await detector.detectWithPatches(prepared ?? blob, patches.slice(start, start + size), options);
    if (result === undefined) {
      result = {
        image: name,
        imageSize: r.imageSize,
        patches: [...r.patches],
        reusedImageFeatures: r.reusedImageFeatures,
        timings: r.timings,
        backend: r.backend,
        ...(r.raw ? { raw: plainRaw(r.raw) } : {}),
      };
    } else {
      result.patches?.push(...r.patches);
    }
  }
  if (result === undefined) throw new Error('no patches');
  return result;
}

function plainRaw(raw: { logits: Float32Array; logitsDims: number[]; boxes: Float32Array; boxesDims: number[] }): CliRaw {
  return { logits: Array.from(raw.logits), logitsDims: [...raw.logitsDims], boxes: Array.from(raw.boxes), boxesDims: [...raw.boxesDims] };
}
