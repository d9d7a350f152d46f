/**
 * Browser side of e2e/bad-input.spec.ts: every bad call through the public API (createDetector,
 * WASM backend, the tiny test package), each followed by a good call. `runCase` returns what the bad
 * call did (resolved, or the error's class/code/reason/status as the page sees it after the worker
 * boundary) and what the good call after it did.
 */
import { createDetector } from '../../src/index.js';
import type { Detector, DetectOptions, QueryPatch } from '../../src/index.js';
import { WebDetrError } from '../../src/errors.js';

export interface CaseOutcome {
  name: string;
  code?: string;
  reason?: string;
  status?: number;
  message?: string;
  /** Something the case measured when it resolved (counts, sizes). */
  detail?: unknown;
}

export interface CaseResult {
  bad: CaseOutcome;
  /** The good call afterwards: 'same' detector or a 'new' one, and whether it equals the first good run. */
  recovery: { on: 'same' | 'new'; name: string; equalsBaseline: boolean };
}

export interface Setup {
  good: string;
  /** URL of a broken package by its name in test/helpers/bad-packages.ts. */
  badRoot: string;
  /** Another origin (a second server): the tiny package without CORS headers, and with them. */
  noCors: string;
  withCors: string;
}

interface Context extends Setup {
  detector: Detector;
  image: ImageData;
}

const OPTIONS: DetectOptions = { raw: true, threshold: 0 };
let context: Context | undefined;
let baseline: Float32Array = new Float32Array();

function testImage(width = 96, height = 64): ImageData {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 5) % 256, (i * 11) % 256, (i >> 3) % 256, 255], i * 4);
  return new ImageData(data, width, height);
}

function canvas(width: number, height: number): HTMLCanvasElement {
  const element = document.createElement('canvas');
  element.width = width;
  element.height = height;
  return element;
}

const equal = (a: Float32Array | undefined, b: Float32Array) => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

function outcomeOf(error: unknown): CaseOutcome {
  const e = error as { name?: string; message?: string; reason?: string; status?: number };
  return {
    name: e?.name ?? String(error),
    ...(error instanceof WebDetrError ? { code: error.code } : {}),
    ...(typeof e?.reason === 'string' ? { reason: e.reason } : {}),
    ...(typeof e?.status === 'number' ? { status: e.status } : {}),
    message: e?.message ?? String(error),
  };
}

async function load(model: string): Promise<CaseOutcome> {
  const detector = await createDetector({ model, backend: 'wasm', cache: false });
  await detector.dispose();
  return { name: 'resolved' };
}

const patch = (x: number, y: number, width: number, height: number): QueryPatch => ({ x, y, width, height });

/** Returns a CaseOutcome when the bad call resolved (some inputs are valid, e.g. a 1x1 image). */
type Case = (c: Context) => Promise<CaseOutcome | unknown>;

const badPackage =
  (name: string): Case =>
  (c) =>
    load(`${c.badRoot}/${name}/`);

export const CASES: Record<string, { run: Case; recovery: 'same' | 'new' }> = {};
const add = (name: string, run: Case, recovery: 'same' | 'new' = 'same') => (CASES[name] = { run, recovery });

for (const name of [
  'no-manifest',
  'manifest-invalid-json',
  'manifest-empty',
  'manifest-html',
  'manifest-not-object',
  'manifest-future-version',
  'manifest-no-graphs',
  'manifest-negative-bytes',
  'manifest-bad-sha256',
  'manifest-unknown-family',
  'manifest-extra-key',
  'manifest-undeclared-tensor',
  'manifest-read-before-produced',
  'manifest-file-escapes-dir',
  'manifest-file-other-origin',
  'graph-404',
  'graph-truncated',
  'graph-too-long',
  'graph-wrong-hash',
  'graph-not-onnx',
  'shape-mismatch',
  'name-mismatch',
  'dtype-mismatch',
])
  add(name, badPackage(name), 'new');
add('model URL empty', () => load(''), 'new');
add('model URL unparsable', () => load('http://[::1'), 'new');
add('backend unknown', (c) => createDetector({ model: c.good, backend: 'cuda' as 'wasm' }), 'new');
add(
  'model on another origin without CORS',
  async (c) => {
    const outcome = await load(c.noCors).catch(outcomeOf);
    // The same files from the same origin with CORS headers load: the refusal was CORS.
    const withCors = await load(c.withCors).catch(outcomeOf);
    return withCors.name === 'resolved' ? outcome : { name: `with CORS also failed: ${withCors.message}` };
  },
  'new',
);
add('image 0x0 canvas', (c) => c.detector.detect(canvas(0, 0)));
add('image 1x1', async (c) => ({ name: 'resolved', detail: (await c.detector.detect(testImage(1, 1), OPTIONS)).imageSize }));
add('image 20000x20000 canvas', (c) => c.detector.detect(canvas(20000, 20000)));
add('image 16385x1 canvas', (c) => c.detector.detect(canvas(16385, 1)));
add('image corrupt PNG bytes', (c) =>
  c.detector.detect(
    new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8])], { type: 'image/png' }),
  ),
);
add('image empty blob', (c) => c.detector.detect(new Blob([], { type: 'image/jpeg' })));
add('image text blob', (c) => c.detector.detect(new Blob(['hello'], { type: 'text/plain' })));
add('image null', (c) => c.detector.detect(null as unknown as ImageData));
add('image URL string', (c) => c.detector.detect('photo.png' as unknown as ImageData));
add('image <img> that failed to load', async (c) => {
  const img = new Image();
  img.src = 'data:image/png;base64,iVBORw0KGgoAAAAAAAAAAAAAAA=='; // a PNG signature, then nothing decodable
  await new Promise((resolve) => (img.onerror = resolve));
  return c.detector.detect(img);
});
add('image closed ImageBitmap', async (c) => {
  const bitmap = await createImageBitmap(testImage());
  bitmap.close();
  return c.detector.detect(bitmap);
});
add('threshold NaN', (c) => c.detector.detect(c.image, { threshold: Number.NaN }));
add('threshold Infinity', (c) => c.detector.detect(c.image, { threshold: Number.POSITIVE_INFINITY }));
add('maxDetections NaN', (c) => c.detector.detect(c.image, { maxDetections: Number.NaN }));
add('maxDetections -1', (c) => c.detector.detect(c.image, { maxDetections: -1 }));
add('classes unknown name', (c) => c.detector.detect(c.image, { classes: ['unicorn'] }));
add('patch NaN coordinate', (c) => c.detector.detectWithPatches(c.image, [patch(Number.NaN, 0, 10, 10)]));
add('patch Infinity size', (c) => c.detector.detectWithPatches(c.image, [patch(0, 0, 10, Number.POSITIVE_INFINITY)]));
add('patch zero area', (c) => c.detector.detectWithPatches(c.image, [patch(10, 10, 0, 0)]));
add('patch outside the image', (c) => c.detector.detectWithPatches(c.image, [patch(-100, -100, 50, 50)]));
add('patches 100 at once', async (c) => {
  const result = await c.detector.detectWithPatches(
    c.image,
    Array.from({ length: 100 }, (_, i) => patch(i % 80, i % 48, 16, 16)),
    OPTIONS,
  );
  return { name: 'resolved', detail: { patches: result.patches.length, queries: result.raw?.logitsDims } };
});
add('patches 101 (limit 100)', (c) =>
  c.detector.detectWithPatches(
    c.image,
    Array.from({ length: 101 }, () => patch(0, 0, 16, 16)),
  ),
);
add('patches empty', (c) => c.detector.detectWithPatches(c.image, []));
add('patches not an array', (c) => c.detector.detectWithPatches(c.image, 'all' as unknown as QueryPatch[]));
add(
  'calls after dispose',
  async (c) => {
    // Its own worker (another URL spelling of the model), so dispose really ends it.
    const own = await createDetector({ model: `${c.good}manifest.json`, backend: 'wasm', cache: false });
    await own.dispose();
    await own.dispose();
    const prepare = await own.prepareImage(c.image).then(
      () => 'resolved',
      (e: unknown) => outcomeOf(e).name,
    );
    if (prepare !== 'DisposedError') return { name: `prepareImage after dispose: ${prepare}` };
    return own.detect(c.image);
  },
  'new',
);
add(
  'dispose during a run',
  async (c) => {
    const own = await createDetector({ model: `${c.good}manifest.json`, backend: 'wasm', cache: false });
    const running = own.detect(c.image, OPTIONS).then(
      (r) => (equal(r.raw?.logits, baseline) ? 'equal' : 'different'),
      (e: unknown) => outcomeOf(e).name,
    );
    const queued = own.detect(c.image, OPTIONS);
    await own.dispose();
    const inFlight = await running;
    // The call under way finishes (or is DisposedError); the queued one must be DisposedError.
    if (inFlight !== 'equal' && inFlight !== 'DisposedError') return { name: `call in flight: ${inFlight}` };
    return queued;
  },
  'new',
);
add('concurrent calls from two detectors', async (c) => {
  const [a, b] = await Promise.all([
    createDetector({ model: c.good, backend: 'wasm', cache: false }),
    createDetector({ model: c.good, backend: 'wasm', cache: false }),
  ]);
  try {
    const calls = [a, b, c.detector, a, b, c.detector].map((d, i) =>
      i % 2 === 0 ? d.detect(c.image, OPTIONS) : d.detect(c.image, OPTIONS),
    );
    const results = await Promise.all(calls);
    return { name: 'resolved', detail: results.map((r) => equal(r.raw?.logits, baseline)) };
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
  }
});
add('replaceable calls superseded', async (c) => {
  const first = c.detector.detect(c.image, { replaceable: true });
  const stale = c.detector.detect(c.image, { replaceable: true });
  const newest = c.detector.detect(c.image, { ...OPTIONS, replaceable: true });
  const [, newestResult] = await Promise.all([first, newest]);
  if (!equal(newestResult.raw?.logits, baseline)) return { name: 'newest call differs' };
  return stale;
});

async function setup(urls: Setup): Promise<string[]> {
  const detector = await createDetector({ model: urls.good, backend: 'wasm', cache: false });
  const image = testImage();
  context = { ...urls, detector, image };
  baseline = (await detector.detect(image, OPTIONS)).raw?.logits ?? new Float32Array();
  return Object.keys(CASES);
}

async function runCase(name: string): Promise<CaseResult> {
  const c = context;
  const spec = CASES[name];
  if (c === undefined || spec === undefined) throw new Error(`no setup or no case ${name}`);
  let bad: CaseOutcome;
  try {
    const value = await spec.run(c);
    bad =
      typeof value === 'object' && value !== null && 'name' in value && typeof value.name === 'string'
        ? (value as CaseOutcome)
        : { name: 'resolved' };
  } catch (error) {
    bad = outcomeOf(error);
  }
  let recovery: CaseResult['recovery'];
  try {
    if (spec.recovery === 'same') {
      const result = await c.detector.detect(c.image, OPTIONS);
      recovery = { on: 'same', name: 'resolved', equalsBaseline: equal(result.raw?.logits, baseline) };
    } else {
      // A new detector for the good model (it shares the long-lived detector's worker).
      const fresh = await createDetector({ model: c.good, backend: 'wasm', cache: false });
      const result = await fresh.detect(c.image, OPTIONS);
      await fresh.dispose();
      recovery = { on: 'new', name: 'resolved', equalsBaseline: equal(result.raw?.logits, baseline) };
    }
  } catch (error) {
    recovery = { on: spec.recovery, name: outcomeOf(error).name, equalsBaseline: false };
  }
  return { bad, recovery };
}

async function teardown(): Promise<void> {
  await context?.detector.dispose();
  context = undefined;
}

declare global {
  interface Window {
    badInput?: { setup: typeof setup; runCase: typeof runCase; teardown: typeof teardown };
  }
}
window.badInput = { setup, runCase, teardown };
