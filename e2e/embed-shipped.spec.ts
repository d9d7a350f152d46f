/**
 * The script-tag build (dist/embed/webdetr.js) with the shipped models (public/models; models get
 * retrained, so this asserts parity and behaviour, never which objects are found) on a page with a
 * strict Content-Security-Policy: a <web-detr> with the detector fires `detections` equal to the
 * runtime's own result for the same picture; a <web-detr mode="one-shot"> lets a patch be dragged
 * with the mouse and fires `detections` with per-patch results equal to the runtime's
 * detectWithPatches; a second patch re-queries on the picture's reused encoder memory, a third is
 * added by keyboard (the demo's keys). Screenshots of both elements are checked by
 * pixels against the frame before the results.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { expect, test, type Locator, type Page } from '@playwright/test';
import type { Detection, PatchDetections, QueryPatch, StageTimings } from '../src/api/types.js';
import { labelColor, patchColor } from '../src/overlay/palette.js';
import { serveWithStrictCsp, type StrictServer } from './embed/strict-csp-server.js';

const SHOTS = 'e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });

interface RecordedEvent {
  id: string;
  detections: Detection[];
  patches: PatchDetections[] | null;
  backend: string;
  backendReason: string;
  timings: StageTimings;
  imageSize: { width: number; height: number };
}
interface Recorded {
  events: RecordedEvent[];
  errors: unknown[];
  violations: string[];
}
const recorded = (page: Page) => page.evaluate(() => (window as unknown as { __embed: Recorded }).__embed);
const eventsOf = async (page: Page, id: string) => (await recorded(page)).events.filter((e) => e.id === id);

/** The element draws the picture at its own pixel size; this maps image pixels to page pixels. */
async function canvasMapping(element: Locator): Promise<(x: number, y: number) => { x: number; y: number }> {
  const canvas = element.locator('canvas');
  const rect = (await canvas.boundingBox())!;
  const width = await canvas.evaluate((c: HTMLCanvasElement) => c.width);
  const scale = rect.width / width;
  return (x, y) => ({ x: rect.x + x * scale, y: rect.y + y * scale });
}

/** RGB at image pixels of an element screenshot (the canvas at scale 1 in its top-left corner). */
async function pixelsAt(page: Page, png: Buffer, points: { x: number; y: number }[]): Promise<[number, number, number][]> {
  return page.evaluate(
    async ({ data, points }) => {
      // Decoded from bytes: the page's CSP (connect-src 'self') refuses a fetch of a data: URL.
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
      return points.map(({ x, y }) => {
        const i =
          (Math.min(Math.max(Math.round(y), 0), bitmap.height - 1) * bitmap.width +
            Math.min(Math.max(Math.round(x), 0), bitmap.width - 1)) *
          4;
        return [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0] as [number, number, number];
      });
    },
    { data: png.toString('base64'), points },
  );
}

const near = (a: [number, number, number], b: [number, number, number], tolerance: number) =>
  a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);
const hex = (colour: string): [number, number, number] =>
  [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as [number, number, number];

/**
 * Fraction of a box's left, right and bottom edge points (inside the picture; the top carries the
 * label tab) where `shot` shows `colour` and differs from `base`, the same element before the box.
 */
async function paintedCoverage(
  page: Page,
  shot: Buffer,
  base: Buffer,
  box: Detection['box'],
  colour: string,
  size: { width: number; height: number },
): Promise<number> {
  // Each edge point with its neighbours across the edge: a 2 px line at a fractional position
  // blends into the pixels on both sides.
  const groups: { x: number; y: number }[][] = [];
  const across = (x: number, y: number, vertical: boolean) =>
    [-1, 0, 1].map((d) => (vertical ? { x: Math.round(x) + d, y: Math.round(y) } : { x: Math.round(x), y: Math.round(y) + d }));
  for (let t = 0.2; t <= 0.81; t += 0.1) {
    const y = box.y + box.height * t;
    const x = box.x + box.width * t;
    for (const [px, py, vertical] of [
      [box.x, y, true],
      [box.x + box.width, y, true],
      [x, box.y + box.height, false],
    ] as const) {
      if (px >= 1 && px <= size.width - 1 && py >= 1 && py <= size.height - 1) groups.push(across(px, py, vertical));
    }
  }
  if (groups.length === 0) return NaN;
  const now = await pixelsAt(page, shot, groups.flat());
  const before = await pixelsAt(page, base, groups.flat());
  const rgb = hex(colour);
  const hits = groups.filter((_, g) =>
    [0, 1, 2].some((j) => near(now[g * 3 + j]!, rgb, 40) && !near(now[g * 3 + j]!, before[g * 3 + j]!, 24)),
  );
  return hits.length / groups.length;
}

let server: StrictServer;

test.beforeAll(async () => {
  execFileSync('npx', ['vite', 'build', '-c', 'vite.embed.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  server = await serveWithStrictCsp({
    '': 'e2e/embed',
    embed: 'dist/embed',
    models: 'public/models',
    samples: 'public/samples',
    page: 'e2e/embed',
  });
});
test.afterAll(async () => server.close());

test('shipped models in <web-detr> under a strict CSP: detector equals the runtime; one-shot patch dragged with the mouse gives per-patch results', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${server.base}/page/shipped.html`);
  const detectorElement = page.locator('#detector');
  const oneShotElement = page.locator('#oneshot');

  // The detector element: a `detections` event with the boxes at its threshold (0.2).
  await page.waitForFunction(
    () =>
      (window as unknown as { __embed: Recorded }).__embed.events.some((e) => e.id === 'detector') ||
      (window as unknown as { __embed: Recorded }).__embed.errors.length > 0,
    undefined,
    { timeout: 180_000 },
  );
  expect((await recorded(page)).errors).toEqual([]);
  const detected = (await eventsOf(page, 'detector'))[0]!;
  expect(detected.backend).toBe('wasm'); // SwiftShader is a CPU fallback adapter: auto picks WASM
  // ... and the status line says so, not just "wasm" (no silent fallback).
  expect(detected.backendReason).toMatch(/CPU fallback/);
  // The runtime's reason, in the element's terms (the backend attribute, not the JS option).
  await expect(detectorElement.locator('p')).toContainText(detected.backendReason.replace(/pass backend: "(\w+)"/, 'set backend="$1"'));
  expect(detected.imageSize).toEqual({ width: 512, height: 512 });
  // The same picture through the module API of the same bundle (shares the element's loaded model).
  const direct = await page.evaluate(async () => {
    const entry = '/embed/webdetr.js';
    const { createDetector } = (await import(entry)) as typeof import('../src/embed/index.js');
    const detector = await createDetector({ model: new URL('/models/detector/manifest.json', location.href) });
    const blob = await (await fetch('/samples/astronaut.jpg')).blob();
    const result = await detector.detect(blob, { threshold: 0, maxDetections: 300 });
    await detector.dispose();
    return result.detections;
  });
  expect(direct.length).toBeGreaterThan(0);
  const expected = direct.filter((d) => d.score >= 0.2).slice(0, 100);
  expect(detected.detections.length).toBe(expected.length);
  detected.detections.forEach((d, i) => {
    const o = expected[i]!;
    expect(d.label).toBe(o.label);
    expect(Math.abs(d.score - o.score)).toBeLessThanOrEqual(1e-6);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - o.box[k])).toBeLessThanOrEqual(1e-3);
  });
  const detectorShot = await detectorElement.locator('canvas').screenshot({ path: `${SHOTS}/30-embed-detector.png` });
  // Threshold 1 re-filters to nothing without a model run: the bare picture, the pixel base.
  const requestsBefore = server.requests.length;
  await detectorElement.evaluate((e) => e.setAttribute('threshold', '1'));
  await expect.poll(async () => (await eventsOf(page, 'detector')).length).toBe(2);
  expect((await eventsOf(page, 'detector'))[1]!.detections).toEqual([]);
  expect(server.requests.length).toBe(requestsBefore);
  const detectorBare = await detectorElement.locator('canvas').screenshot();
  if (detected.detections.length > 0) {
    const top = detected.detections[0]!; // the best box, drawn last: nothing over its outline
    const coverage = await paintedCoverage(page, detectorShot, detectorBare, top.box, labelColor(top.label).stroke, detected.imageSize);
    console.log(`embed detector: ${detected.detections.length} boxes at 0.2; top box's painted edge coverage ${coverage.toFixed(2)}`);
    if (!Number.isNaN(coverage)) expect(coverage).toBeGreaterThanOrEqual(0.6);
  }

  // The one-shot element: ready when it asks for a patch; then a mouse drag on the canvas.
  await expect(oneShotElement.locator('p')).toContainText('One-shot: drag a box', { timeout: 180_000 });
  const before = await oneShotElement.locator('canvas').screenshot({ path: `${SHOTS}/31-embed-oneshot-before.png` });
  const at = await canvasMapping(oneShotElement);
  const drag = async (from: [number, number], to: [number, number]) => {
    const a = at(...from);
    const b = at(...to);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
    await page.mouse.move(b.x, b.y, { steps: 4 });
    await page.mouse.up();
  };
  await drag([190, 70], [320, 230]);
  await expect.poll(async () => (await eventsOf(page, 'oneshot')).length, { timeout: 120_000 }).toBe(1);
  const first = (await eventsOf(page, 'oneshot'))[0]!;
  expect(first.patches).toHaveLength(1);
  const patch = first.patches![0]!;
  for (const [k, v] of [
    ['x', 190],
    ['y', 70],
    ['width', 130],
    ['height', 160],
  ] as const)
    expect(Math.abs(patch.patch[k] - v)).toBeLessThanOrEqual(2);
  expect(patch.detections.length).toBeGreaterThan(0); // threshold 0: the model's top-k for the patch
  expect(first.detections).toEqual([]); // one-shot results come per patch
  // The first query on the prepared picture runs its encoder once (later ones reuse it, below).
  expect(first.timings.encoder).toBeGreaterThan(0);

  const dragged = await oneShotElement.locator('canvas').screenshot({ path: `${SHOTS}/32-embed-oneshot-mouse.png` });
  const patchColour = patchColor(0).stroke; // src/overlay/palette.ts: the first patch's colour
  const top1 = patch.detections[0]!; // the best match: drawn on top of the other matches
  const coverage = await paintedCoverage(page, dragged, before, top1.box, patchColour, first.imageSize);
  console.log(`embed one-shot: ${patch.detections.length} matches for the patch; top match's painted edge coverage ${coverage.toFixed(2)}`);
  if (!Number.isNaN(coverage)) expect(coverage).toBeGreaterThanOrEqual(0.6);

  // A second patch: both are queried together, each with its own results.
  await drag([60, 300], [200, 460]);
  await expect.poll(async () => (await eventsOf(page, 'oneshot')).length, { timeout: 120_000 }).toBe(2);
  const second = (await eventsOf(page, 'oneshot'))[1]!;
  expect(second.patches).toHaveLength(2);
  expect(second.patches![0]!.patch).toEqual(patch.patch);
  for (const p of second.patches!) expect(p.detections.length).toBeGreaterThan(0);
  // The picture's encoder memory is reused: only the patch branch and the decoder ran.
  expect(second.timings.backbone + second.timings.encoder).toBe(0);
  expect(second.timings.decoder).toBeGreaterThan(0);
  // The second patch's matches in their own colour, drawn after the first patch's.
  const two = await oneShotElement.locator('canvas').screenshot({ path: `${SHOTS}/33-embed-oneshot-two-patches.png` });
  const coverage2 = await paintedCoverage(
    page,
    two,
    before,
    second.patches![1]!.detections[0]!.box,
    patchColor(1).stroke,
    second.imageSize,
  );
  if (!Number.isNaN(coverage2)) expect(coverage2).toBeGreaterThanOrEqual(0.6);
  await page.screenshot({ path: `${SHOTS}/34-embed-shipped-page.png`, fullPage: true });

  // The keyboard scheme shared with the demo (src/overlay/patch-editor-core.ts): N adds a centred
  // patch a quarter of the picture, Enter searches all three.
  await oneShotElement.locator('canvas').focus();
  await page.keyboard.press('n');
  expect((await eventsOf(page, 'oneshot')).length).toBe(2); // adding does not search yet
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await eventsOf(page, 'oneshot')).length, { timeout: 120_000 }).toBe(3);
  const third = (await eventsOf(page, 'oneshot'))[2]!;
  expect(third.patches?.map((p) => p.patch)).toEqual([patch.patch, second.patches![1]!.patch, { x: 192, y: 192, width: 128, height: 128 }]);
  expect(third.timings.backbone + third.timings.encoder).toBe(0);

  // The first query through the runtime API (a fresh prepare of the same file; last, because the
  // worker keeps one picture's encoder memory per model): equal per-patch results.
  const directPatch = await page.evaluate(async (query: QueryPatch) => {
    const entry = '/embed/webdetr.js';
    const { createDetector } = (await import(entry)) as typeof import('../src/embed/index.js');
    const detector = await createDetector({ model: new URL('/models/oneshot/manifest.json', location.href) });
    const blob = await (await fetch('/samples/astronaut.jpg')).blob();
    const result = await detector.detectWithPatches(blob, [query], { threshold: 0 });
    await detector.dispose();
    return result.patches[0]!.detections;
  }, patch.patch);
  expect(patch.detections.length).toBe(directPatch.length);
  patch.detections.forEach((d, i) => {
    const o = directPatch[i]!;
    expect(Math.abs(d.score - o.score)).toBeLessThanOrEqual(1e-5);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - o.box[k])).toBeLessThanOrEqual(1e-2);
  });

  const state = await recorded(page);
  expect(state.errors).toEqual([]);
  expect(state.violations).toEqual([]);
  expect(consoleErrors.filter((m) => /Content Security Policy|Refused/.test(m))).toEqual([]);
});
