/**
 * Browser side of e2e/soak.spec.ts: a long mixed loop through the public API on the tiny test package
 * (test/fixtures/packages/tiny). The schedule repeats every PERIOD frames — detect and
 * detectWithPatches, ImageData / ImageBitmap / prepared images of three sizes, 1-5 patches with moving
 * rectangles, a few thresholds and class filters — so samples taken every multiple of PERIOD frames
 * see the same state and must show the same memory. Before each sample the worker and the page run a
 * full GC (chromium started with --js-flags=--expose-gc; the worker through its test hook).
 */
import { createDetector } from '../../src/index.js';
import type { BackendPreference, Detector, DetectorStats, DetectOptions, PreparedImage, QueryPatch } from '../../src/index.js';
import type { TestHookMessage } from '../../src/worker/test-hooks.js';
import { workers } from './test-hook-workers.js';

/** Frames per schedule period; sample intervals are multiples of it. */
export const PERIOD = 25;

export interface SoakSample {
  /** Frames completed when the sample was taken. */
  frame: number;
  elapsedMs: number;
  /** Mean wall ms per frame since the previous sample. */
  msPerFrame: number;
  stats: DetectorStats;
  pageJsHeapBytes: number | undefined;
}

export interface SoakResult {
  backend: string;
  description: string;
  frames: number;
  failures: string[];
  samples: SoakSample[];
  /** Per frame type (schedule slot): fingerprints over periods must all be equal (deterministic outputs). */
  fingerprintMismatches: string[];
  callsByKind: Record<string, number>;
  workersStarted: number;
  durationMs: number;
}

const SIZES = [
  [96, 64],
  [160, 120],
  [57, 83],
] as const;

function testImage(width: number, height: number, seed: number): ImageData {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    data.set([(x * 5 + y + seed * 17) % 256, (y * 7 + seed * 29) % 256, (x * y + seed) % 256, 255], i * 4);
  }
  return new ImageData(data, width, height);
}

function sizeOf(slot: number): readonly [number, number] {
  return SIZES[slot % SIZES.length] ?? SIZES[0];
}

/**
 * 1 or 3 patches on a width x height image, moving with `slot`; one hangs over the left edge (clipped).
 * Two counts only: each new count makes onnxruntime compile the patch decoder's shaders again (~20 s on
 * a loaded SwiftShader), which the warm-up must cover.
 */
function patchesFor(slot: number, width: number, height: number): QueryPatch[] {
  const count = slot % 2 === 0 ? 1 : 3;
  return Array.from({ length: count }, (_, k) => {
    const w = Math.max(4, Math.round(width * (0.2 + 0.1 * ((slot + k) % 4))));
    const h = Math.max(4, Math.round(height * (0.25 + 0.1 * ((slot + 2 * k) % 3))));
    const x = ((slot * 7 + k * 13) % width) - (k === 2 ? 6 : 0);
    const y = (slot * 5 + k * 11) % height;
    return { x, y, width: w, height: h };
  });
}

const OPTIONS: DetectOptions[] = [
  {},
  { threshold: 0.05 },
  { threshold: 0.3, maxDetections: 5 },
  { threshold: 0, classes: [0] },
  { threshold: 0.7 },
];

function fingerprint(result: { detections: { score: number; box: { x: number; y: number } }[] }[]): string {
  return result
    .map((r) => `${r.detections.length}:${r.detections.reduce((s, d) => s + d.score + d.box.x * 1e-3 + d.box.y * 1e-6, 0).toFixed(6)}`)
    .join('|');
}

function pageHeap(): number | undefined {
  return (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
}

async function sample(detector: Detector, frame: number, started: number, previous: SoakSample | undefined): Promise<SoakSample> {
  (globalThis as { gc?: () => void }).gc?.();
  // Hook messages and comlink calls share the worker's port: the GC runs before stats() is read.
  workers.at(-1)?.postMessage({ webdetrTestHook: 'gc' } satisfies TestHookMessage);
  const stats = await detector.stats();
  const elapsedMs = performance.now() - started;
  const msPerFrame = previous === undefined || frame === previous.frame ? 0 : (elapsedMs - previous.elapsedMs) / (frame - previous.frame);
  return { frame, elapsedMs, msPerFrame, stats, pageJsHeapBytes: pageHeap() };
}

/**
 * Runs `frames` calls (a multiple of PERIOD is best) and samples memory at frame 0 and every
 * `sampleEvery` frames (a multiple of PERIOD).
 */
async function runSoak(
  model: string,
  backend: BackendPreference,
  frames: number,
  sampleEvery: number,
  verbose = false,
): Promise<SoakResult> {
  const workersBefore = workers.length;
  const detector = await createDetector({ model, backend, cache: false });
  const failures: string[] = [];
  const callsByKind: Record<string, number> = {};
  const fingerprints = new Map<number, string>();
  const fingerprintMismatches: string[] = [];
  const samples: SoakSample[] = [];
  const started = performance.now();
  let prepared: PreparedImage | undefined;
  try {
    samples.push(await sample(detector, 0, started, undefined));
    for (let frame = 0; frame < frames; frame++) {
      const slot = frame % PERIOD;
      const period = Math.floor(frame / PERIOD);
      // A fresh prepared image twice a period (older ones are evicted by the worker's store).
      if (slot === 0 || slot === 12) {
        const [w, h] = sizeOf(slot === 0 ? 1 : 2);
        if (verbose) console.log(`soak frame ${frame}: prepareImage ${w}x${h}`);
        prepared = await detector.prepareImage(testImage(w, h, slot));
      }
      const [w, h] = sizeOf(slot);
      const options = { ...OPTIONS[slot % OPTIONS.length] };
      const kind =
        ['prepared-one-shot', 'imagedata-detect', 'bitmap-one-shot', 'prepared-detect', 'prepared-requery'][slot % 5] ?? 'imagedata-detect';
      callsByKind[kind] = (callsByKind[kind] ?? 0) + 1;
      const callStarted = performance.now();
      if (verbose)
        console.log(
          `soak frame ${frame} ${kind} starts (prepared ${prepared?.id} ${prepared?.width}x${prepared?.height}, image ${w}x${h})`,
        );
      try {
        let print: string;
        if (kind === 'imagedata-detect') {
          print = fingerprint([await detector.detect(testImage(w, h, slot), options)]);
        } else if (kind === 'prepared-detect' && prepared !== undefined) {
          print = fingerprint([await detector.detect(prepared, options)]);
        } else if (kind === 'bitmap-one-shot') {
          const bitmap = await createImageBitmap(testImage(w, h, slot));
          print = fingerprint((await detector.detectWithPatches(bitmap, patchesFor(slot, w, h), options)).patches);
        } else if (prepared !== undefined) {
          print = fingerprint(
            (await detector.detectWithPatches(prepared, patchesFor(slot, prepared.width, prepared.height), options)).patches,
          );
        } else {
          throw new Error(`no prepared image at frame ${frame}`);
        }
        const first = fingerprints.get(slot);
        if (first === undefined) fingerprints.set(slot, print);
        else if (first !== print && fingerprintMismatches.length < 20)
          fingerprintMismatches.push(`frame ${frame} (slot ${slot}, period ${period}) ${kind}: ${print} vs ${first}`);
      } catch (error) {
        if (verbose) console.log(`soak frame ${frame} ${kind} failed: ${String(error)}`);
        if (failures.length < 20) failures.push(`frame ${frame} ${kind}: ${String(error)}`);
      }
      if (verbose) console.log(`soak frame ${frame} ${kind} ${(performance.now() - callStarted).toFixed(0)} ms`);
      if ((frame + 1) % sampleEvery === 0) samples.push(await sample(detector, frame + 1, started, samples.at(-1)));
    }
    return {
      backend: detector.backend.name,
      description: detector.backend.description,
      frames,
      failures,
      samples,
      fingerprintMismatches,
      callsByKind,
      workersStarted: workers.length - workersBefore,
      durationMs: performance.now() - started,
    };
  } finally {
    await detector.dispose();
  }
}

export interface ZoomSoakResult {
  backend: string;
  /** Views searched per patch in each round. */
  views: number[][];
  /** Round 0's detections per patch (boxes in source pixels), for the cross-backend comparison. */
  detections: { score: number; box: { x: number; y: number; width: number; height: number } }[][];
  /** Every round's fingerprint: zoomed results are deterministic. */
  fingerprints: string[];
  /** Memory after each round (forced GC first). */
  samples: SoakSample[];
  failures: string[];
}

/**
 * Zoomed search, `rounds` times on one prepared 160x120 picture of the tiny one-shot package
 * (test/fixtures/packages/tiny-oneshot): a small patch (searched in the 4 windows too) and a large one
 * (whole picture only), threshold 0. Memory is sampled after every round.
 */
async function runZoomSoak(model: string, backend: BackendPreference, rounds: number): Promise<ZoomSoakResult> {
  const detector = await createDetector({ model, backend, cache: false });
  const result: ZoomSoakResult = { backend: detector.backend.name, views: [], detections: [], fingerprints: [], samples: [], failures: [] };
  const started = performance.now();
  try {
    const prepared = await detector.prepareImage(testImage(160, 120, 3));
    const patches: QueryPatch[] = [
      { x: 100, y: 70, width: 20, height: 15 },
      { x: 10, y: 10, width: 90, height: 80 },
    ];
    for (let round = 0; round < rounds; round++) {
      try {
        const out = await detector.detectWithPatches(prepared, patches, { threshold: 0 });
        result.views.push(out.patches.map((p) => p.views));
        result.fingerprints.push(fingerprint(out.patches));
        if (round === 0) result.detections = out.patches.map((p) => p.detections.map(({ score, box }) => ({ score, box: { ...box } })));
      } catch (error) {
        result.failures.push(`round ${round}: ${String(error)}`);
      }
      result.samples.push(await sample(detector, round + 1, started, result.samples.at(-1)));
    }
    return result;
  } finally {
    await detector.dispose();
  }
}

declare global {
  interface Window {
    soak?: { runSoak: typeof runSoak; runZoomSoak: typeof runZoomSoak; period: number };
  }
}
window.soak = { runSoak, runZoomSoak, period: PERIOD };
