/**
 * Bad input at the engine layer (DetectorEngine on WASM in Node, the code behind the worker), table
 * driven on the tiny test package and its broken variants (test/helpers/bad-packages.ts). Each case
 * asserts the exact error class, code and reason, then that a good call still works: the same engine
 * where one exists (its outputs equal the first good run), else a freshly loaded one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError, InputError, ManifestError, ModelFetchError, ModelIntegrityError, type WebDetrError } from '../../src/errors';
import type { QueryPatch } from '../../src/api/types';
import { DetectorEngine } from '../../src/worker/engine';
import type { RgbaPixels } from '../../src/kernels/bilinear-reference';
import { BAD_PACKAGE_CASES, TINY_PACKAGE, writeBadPackages, type ExpectedLoadError } from '../helpers/bad-packages';
import { serveDirectories, type StaticServer } from '../helpers/static-server';

type ErrorClass = new (...args: never[]) => WebDetrError;
interface Expected {
  error: ErrorClass;
  code: string;
  reason?: string;
  status?: number;
}

const image = (width = 96, height = 64): RgbaPixels => ({
  data: new Uint8ClampedArray(width * height * 4).map((_, i) => (i * 37 + (i >> 7)) % 256),
  width,
  height,
});
const inputError: Expected = { error: InputError, code: 'invalid-input' };

// The bad packages and their errors are one table, shared with e2e/bad-input.spec.ts.
const ERROR_CLASSES: Record<ExpectedLoadError['name'], ErrorClass> = { ModelFetchError, ManifestError, ModelIntegrityError };
const LOAD_CASES: [string, Expected][] = BAD_PACKAGE_CASES.map(([name, { name: errorName, ...fields }]) => [
  name,
  { error: ERROR_CLASSES[errorName], ...fields },
]);

const patch = (x: number, y: number, width: number, height: number): QueryPatch => ({ x, y, width, height });
type Call = (engine: DetectorEngine) => Promise<unknown>;
const CALL_CASES: [string, Call, Expected][] = [
  ['image 0x0', (e) => e.detect(image(0, 0)), inputError],
  [
    'image 20000x20000 (refused before its bytes are read)',
    (e) => e.detect({ data: new Uint8ClampedArray(4), width: 20000, height: 20000 }),
    inputError,
  ],
  ['image 16385x1 (side limit)', (e) => e.detect(image(16385, 1)), inputError],
  ['image with fewer bytes than its size', (e) => e.detect({ data: new Uint8ClampedArray(10), width: 96, height: 64 }), inputError],
  ['image of fractional size', (e) => e.detect({ data: new Uint8ClampedArray(4), width: 1.5, height: 1 }), inputError],
  ['threshold NaN', (e) => e.detect(image(), { threshold: Number.NaN }), inputError],
  ['threshold Infinity', (e) => e.detect(image(), { threshold: Number.POSITIVE_INFINITY }), inputError],
  ['threshold -1', (e) => e.detect(image(), { threshold: -1 }), inputError],
  ['maxDetections NaN', (e) => e.detect(image(), { maxDetections: Number.NaN }), inputError],
  ['maxDetections -Infinity', (e) => e.detect(image(), { maxDetections: Number.NEGATIVE_INFINITY }), inputError],
  ['unknown class name', (e) => e.detect(image(), { classes: ['unicorn'] }), inputError],
  ['unknown class id', (e) => e.detect(image(), { classes: [99] }), inputError],
  ['patch with NaN x', (e) => e.detectWithPatches(image(), [patch(Number.NaN, 0, 10, 10)]), inputError],
  ['patch with Infinity width', (e) => e.detectWithPatches(image(), [patch(0, 0, Number.POSITIVE_INFINITY, 10)]), inputError],
  ['patch of zero area', (e) => e.detectWithPatches(image(), [patch(5, 5, 0, 10)]), inputError],
  ['patch of negative size', (e) => e.detectWithPatches(image(), [patch(50, 50, -10, -10)]), inputError],
  ['patch outside the image', (e) => e.detectWithPatches(image(), [patch(200, 200, 30, 30)]), inputError],
  ['no patches', (e) => e.detectWithPatches(image(), []), inputError],
  [
    '101 patches (the model takes 100)',
    (e) =>
      e.detectWithPatches(
        image(),
        Array.from({ length: 101 }, () => patch(0, 0, 20, 20)),
      ),
    inputError,
  ],
  [
    'a prepared image that was evicted',
    async (e) => {
      const first = e.prepareImage(image());
      for (let i = 0; i < 4; i++) e.prepareImage(image());
      return e.detect(first.id);
    },
    inputError,
  ],
];

let server: StaticServer;
let engine: DetectorEngine;
let baseline: Float32Array;

const load = (mount: string) => DetectorEngine.create({ model: `${server.base}${mount}/`, gpu: undefined, cache: false });
const logitsOf = async (e: DetectorEngine) => (await e.detect(image(), { raw: true, threshold: 0 })).raw?.logits;

function expectTyped(error: unknown, expected: Expected): void {
  expect(error).toBeInstanceOf(expected.error);
  expect(error).toMatchObject({
    code: expected.code,
    ...(expected.reason ? { reason: expected.reason } : {}),
    ...(expected.status ? { status: expected.status } : {}),
  });
}

beforeAll(async () => {
  const bad = writeBadPackages();
  const mounts: Record<string, string> = { tiny: TINY_PACKAGE };
  for (const [name] of LOAD_CASES) mounts[name] = `${bad}/${name}`;
  server = await serveDirectories(mounts);
  engine = await load('tiny');
  baseline = (await logitsOf(engine)) ?? new Float32Array();
}, 60_000);
afterAll(async () => {
  await engine?.dispose();
  await server?.close();
});

describe(`bad model packages: ${LOAD_CASES.length} cases, each then a fresh good load`, () => {
  it.each(LOAD_CASES)('%s', async (name, expected) => {
    const error = await load(name).then(
      async (e) => (await e.dispose(), 'loaded'),
      (e: unknown) => e,
    );
    expectTyped(error, expected);
    const fresh = await load('tiny');
    try {
      expect(await logitsOf(fresh)).toEqual(baseline);
    } finally {
      await fresh.dispose();
    }
  });
});

describe(`bad calls: ${CALL_CASES.length + 4} cases, each then a good call on the same engine`, () => {
  it.each(CALL_CASES)('%s', async (_name, call, expected) => {
    expectTyped(
      await call(engine).then(
        () => 'resolved',
        (e: unknown) => e,
      ),
      expected,
    );
    expect(await logitsOf(engine)).toEqual(baseline);
  });

  it('image 1x1 is valid: detections in its 1x1 frame', async () => {
    const result = await engine.detect(image(1, 1), { threshold: 0 });
    expect(result.imageSize).toEqual({ width: 1, height: 1 });
    for (const d of result.detections) expect(d.box.x).toBeGreaterThanOrEqual(-1);
    expect(await logitsOf(engine)).toEqual(baseline);
  });

  it('a patch hanging over the edge is clipped; 100 patches at once work', async () => {
    const edge = await engine.detectWithPatches(image(), [patch(80, 50, 40, 40)], { threshold: 0 });
    expect(edge.patches).toHaveLength(1);
    const many = await engine.detectWithPatches(
      image(),
      Array.from({ length: 100 }, (_, i) => patch(i % 80, i % 50, 16, 14)),
      { raw: true, threshold: 0 },
    );
    expect(many.patches).toHaveLength(100);
    expect(many.raw?.logitsDims).toEqual([1, 1000, 3]);
    expect(await logitsOf(engine)).toEqual(baseline);
  });

  it('calls after dispose -> DisposedError; a new engine works', async () => {
    const doomed = await load('tiny');
    await doomed.dispose();
    await doomed.dispose(); // idempotent
    expectTyped(await doomed.detect(image()).catch((e: unknown) => e), { error: DisposedError, code: 'disposed' });
    expect(() => doomed.prepareImage(image())).toThrow(DisposedError);
    expect(await logitsOf(engine)).toEqual(baseline);
  });

  it('dispose during a run: the run under way finishes (or, not yet started, is DisposedError), later calls -> DisposedError', async () => {
    const doomed = await load('tiny');
    const running = doomed.detect(image(), { raw: true, threshold: 0 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const disposing = doomed.dispose();
    const later = doomed.detect(image()).catch((e: unknown) => e);
    const outcome = await running;
    if (outcome instanceof Error) expectTyped(outcome, { error: DisposedError, code: 'disposed' });
    else expect((outcome as { raw?: { logits: Float32Array } }).raw?.logits).toEqual(baseline);
    await disposing;
    expectTyped(await later, { error: DisposedError, code: 'disposed' });
    expect(await logitsOf(engine)).toEqual(baseline);
  });
});
