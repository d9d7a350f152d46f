/**
 * Test page for the public API: window.detectorApi runs one scripted session of createDetector in
 * the page (the engine in its worker) and returns plain data for the spec to compare.
 */
import { createDetector } from '../../src/index.js';
import type { BackendPreference, DetectionResult, LoadProgressEvent, OneShotResult, PreparedImage, QueryPatch } from '../../src/index.js';

export interface ApiSession {
  model: string;
  backend: BackendPreference;
  cache?: boolean;
  /** URL of a raw float32 [1, 3, H, W] normalized image; turned back into its RGBA bytes. */
  image: string;
  mean: [number, number, number];
  std: [number, number, number];
  /** Patch sets for detectWithPatches on one prepared image, in order; none = detect(). */
  patchSets?: QueryPatch[][];
}

export interface ApiError {
  name: string;
  code: string | undefined;
  message: string;
  isWebDetrError: boolean;
}

export interface ApiSessionResult {
  backend: { name: string; description: string; reason: string };
  progress: LoadProgressEvent[];
  detect?: Pick<DetectionResult, 'detections' | 'timings' | 'imageSize'> & { logits: number[]; boxes: number[] };
  oneShot?: (Pick<OneShotResult, 'reusedImageFeatures' | 'timings'> & { logits: number[]; boxes: number[]; counts: number[] })[];
  errors: Record<string, ApiError>;
  afterErrors?: number;
}

function describeError(error: unknown): ApiError {
  const e = error as { name?: string; code?: string; message?: string };
  return {
    name: e.name ?? 'unknown',
    code: e.code,
    message: e.message ?? String(error),
    isWebDetrError: error instanceof Error && 'code' in error,
  };
}

async function imageDataFrom(url: string, mean: number[], std: number[]): Promise<ImageData> {
  const floats = new Float32Array(await (await fetch(url)).arrayBuffer());
  const meta = (await (await fetch(url.replace(/image\.f32$/, 'manifest.json'))).json()) as {
    input: { sizePolicy: { height: number; width: number } };
  };
  const { height, width } = meta.input.sizePolicy;
  const plane = height * width;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round(((floats[c * plane + i] ?? 0) * (std[c] ?? 1) + (mean[c] ?? 0)) * 255);
    rgba[i * 4 + 3] = 255;
  }
  return new ImageData(rgba, width, height);
}

async function capture<T>(errors: Record<string, ApiError>, name: string, run: () => Promise<T>): Promise<void> {
  try {
    await run();
    errors[name] = { name: 'none', code: undefined, message: 'did not throw', isWebDetrError: false };
  } catch (error) {
    errors[name] = describeError(error);
  }
}

async function runSession(session: ApiSession): Promise<ApiSessionResult> {
  const progress: LoadProgressEvent[] = [];
  const detector = await createDetector({
    model: session.model,
    backend: session.backend,
    cache: session.cache ?? false,
    onProgress: (event) => progress.push(event),
  });
  const errors: Record<string, ApiError> = {};
  const result: ApiSessionResult = { backend: { ...detector.backend }, progress, errors };
  let prepared: PreparedImage | undefined;
  try {
    const image = await imageDataFrom(session.image, session.mean, session.std);
    if (session.patchSets === undefined) {
      const detected = await detector.detect(image, { raw: true, threshold: 0 });
      result.detect = {
        detections: detected.detections,
        timings: detected.timings,
        imageSize: detected.imageSize,
        logits: Array.from(detected.raw?.logits ?? []),
        boxes: Array.from(detected.raw?.boxes ?? []),
      };
      await capture(errors, 'patchesOnDetector', () => detector.detectWithPatches(image, [{ x: 0, y: 0, width: 8, height: 8 }]));
    } else {
      const ready = await detector.prepareImage(image);
      prepared = ready;
      result.oneShot = [];
      for (const patches of session.patchSets) {
        const out = await detector.detectWithPatches(ready, patches, { raw: true, threshold: 0 });
        result.oneShot.push({
          reusedImageFeatures: out.reusedImageFeatures,
          timings: out.timings,
          logits: Array.from(out.raw?.logits ?? []),
          boxes: Array.from(out.raw?.boxes ?? []),
          counts: out.patches.map((p) => p.detections.length),
        });
      }
      await capture(errors, 'zeroPatch', () => detector.detectWithPatches(ready, [{ x: 3, y: 3, width: 0, height: 5 }]));
      await capture(errors, 'detectOnOneShot', () => detector.detect(image));
    }
    await capture(errors, 'emptyImage', () => detector.detect(new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' })));
    await capture(errors, 'badThreshold', () => detector.detect(image, { threshold: -1 }));
    // Still usable after every error above. One-shot: the prepared image and the last (smallest) patch
    // set, since on SwiftShader WebGPU each patch costs ~30 s and the image encoder as much again.
    const again =
      prepared === undefined
        ? await detector.detect(image, { threshold: 0 })
        : await detector.detectWithPatches(prepared, session.patchSets?.at(-1) ?? []);
    result.afterErrors = 'detections' in again ? again.detections.length : again.patches.length;
  } finally {
    await detector.dispose();
  }
  await capture(errors, 'afterDispose', () => detector.detect(new ImageData(4, 4)));
  return result;
}

async function loadFailure(model: string, backend: BackendPreference = 'wasm'): Promise<ApiError> {
  try {
    const detector = await createDetector({ model, backend, cache: false });
    await detector.dispose();
    return { name: 'none', code: undefined, message: 'loaded', isWebDetrError: false };
  } catch (error) {
    return describeError(error);
  }
}

declare global {
  interface Window {
    detectorApi?: { runSession: typeof runSession; loadFailure: typeof loadFailure };
  }
}

window.detectorApi = { runSession, loadFailure };
