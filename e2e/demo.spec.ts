/**
 * The open demo (index.html + src/ui) in headless chromium with the models it ships
 * (public/models/detector and public/models/oneshot; models get retrained, so nothing here asserts
 * which objects they find, only parity and behaviour): the page opened with no query string loads
 * the detector with a byte progress bar, says it runs on WASM (SwiftShader is a CPU fallback
 * adapter), a bundled photo gets boxes equal to the runtime's own result for that file, the
 * threshold slider changes the drawing without another model run; "Find similar" loads the
 * one-shot model while a patch is being dragged; one-shot by mouse and by keyboard only in a
 * chromium without WebGPU; a missing model says so. Every step saves a screenshot
 * (e2e/screenshots/) and checks it by pixels: each reported box's outline colour is painted on
 * screen along its edges (compared with the same frame without boxes), and not where none is drawn.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { chromium, expect, test, type Page } from '@playwright/test';
import type { DemoState } from '../src/ui/dom.js';
import { chromiumWebGpuArgs } from '../cli/chromium-flags.mjs';

const SHOTS = 'e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });

/** onnxruntime-web's .wasm: the page fetches it as the load's first file (src/api/runtime-binary.ts). */
const RUNTIME_BYTES = statSync('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm').size;

/** Download size (graphs + runtime) and file count of a shipped package's load, as the progress line should show them. */
function shippedPackage(name: 'detector' | 'oneshot'): { megabytes: string; files: number } {
  const manifest = JSON.parse(readFileSync(`public/models/${name}/manifest.json`, 'utf8')) as { graphs: { bytes: number }[] };
  return {
    megabytes: ((manifest.graphs.reduce((sum, g) => sum + g.bytes, 0) + RUNTIME_BYTES) / 1e6).toFixed(1),
    files: manifest.graphs.length + 1,
  };
}

type Rect = { x: number; y: number; width: number; height: number };
type Drawn = DemoState['drawn'][number];

const demoState = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__webdetrDemo)) as DemoState);

async function openDemo(page: Page, query: string): Promise<void> {
  page.on('console', (m) => !m.text().startsWith('[W:onnxruntime') && m.type() !== 'debug' && console.log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`/index.html?${query}`);
}

/**
 * Points on a box outline (stage CSS px), away from the corners and the label above the top edge,
 * each with its neighbours across the edge (the element screenshot may sit up to 1 px off the
 * fractional page position of the stage).
 */
function edgePoints(rect: Rect): { x: number; y: number }[][] {
  const points: { x: number; y: number }[][] = [];
  const across = (x: number, y: number, vertical: boolean) => [-1, 0, 1].map((d) => (vertical ? { x: x + d, y } : { x, y: y + d }));
  const left = Math.floor(rect.x);
  const right = Math.floor(rect.x + rect.width);
  const bottom = Math.floor(rect.y + rect.height);
  for (let t = 0.2; t <= 0.81; t += 0.1) {
    const y = Math.floor(rect.y + rect.height * t);
    points.push(across(left, y, true), across(right, y, true), across(Math.floor(rect.x + rect.width * t), bottom, false));
  }
  return points;
}

/** Decodes a PNG screenshot in the page and returns the RGB at each point. */
async function pixelsAt(page: Page, png: Buffer, points: { x: number; y: number }[]): Promise<[number, number, number][]> {
  return page.evaluate(
    async ({ data, points }) => {
      const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${data}`)).blob());
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
      return points.map(({ x, y }) => {
        const i = (Math.min(Math.max(y, 0), bitmap.height - 1) * bitmap.width + Math.min(Math.max(x, 0), bitmap.width - 1)) * 4;
        return [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0] as [number, number, number];
      });
    },
    { data: png.toString('base64'), points },
  );
}

const near = (a: [number, number, number], b: [number, number, number], tolerance = 40) =>
  a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);

/** Fraction of the box's edge points that show its colour in the screenshot (at the point or a neighbour across the edge). */
async function colourCoverage(page: Page, png: Buffer, box: Drawn, avoid: Rect[] = []): Promise<number> {
  const inflate = (r: Rect) => ({ x: r.x - 4, y: r.y - 22, width: r.width + 8, height: r.height + 26 });
  const inside = (p: { x: number; y: number }, r: Rect) => p.x >= r.x && p.x <= r.x + r.width && p.y >= r.y && p.y <= r.y + r.height;
  const groups = edgePoints(box.stageRect).filter((g) => !avoid.some((r) => g.some((p) => inside(p, inflate(r)))));
  if (groups.length === 0) return NaN;
  const pixels = await pixelsAt(page, png, groups.flat());
  let hits = 0;
  groups.forEach((group, i) => {
    if (pixels.slice(i * group.length, (i + 1) * group.length).some((p) => near(p, box.rgb))) hits++;
  });
  return hits / groups.length;
}

async function stageShot(page: Page, name: string): Promise<Buffer> {
  return page.locator('#stage').screenshot({ path: `${SHOTS}/${name}.png` });
}

/**
 * Fraction of the box's edge points where the overlay painted the box's colour: the colour is on
 * screen in `shot` and the pixel differs from `base` (the same frame without that box), so a photo
 * that happens to have that colour along an edge counts for nothing either way.
 */
async function paintedCoverage(page: Page, shot: Buffer, base: Buffer, box: Drawn, avoid: Rect[] = []): Promise<number> {
  const inflate = (r: Rect) => ({ x: r.x - 4, y: r.y - 22, width: r.width + 8, height: r.height + 26 });
  const inside = (p: { x: number; y: number }, r: Rect) => p.x >= r.x && p.x <= r.x + r.width && p.y >= r.y && p.y <= r.y + r.height;
  const groups = edgePoints(box.stageRect).filter((g) => !avoid.some((r) => g.some((p) => inside(p, inflate(r)))));
  if (groups.length === 0) return NaN;
  const now = await pixelsAt(page, shot, groups.flat());
  const before = await pixelsAt(page, base, groups.flat());
  let hits = 0;
  let at = 0;
  for (const group of groups) {
    if (group.some((_, j) => near(now[at + j]!, box.rgb) && !near(now[at + j]!, before[at + j]!, 24))) hits++;
    at += group.length;
  }
  return hits / groups.length;
}

/** Records every text the model-status line shows (a fast download can pass between two polls). */
async function recordLoadTexts(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const texts: string[] = [];
    (window as unknown as { __loadTexts: string[] }).__loadTexts = texts;
    document.addEventListener('DOMContentLoaded', () => {
      const line = document.getElementById('load-text')!;
      new MutationObserver(() => texts.push(line.textContent ?? '')).observe(line, { childList: true, characterData: true, subtree: true });
    });
  });
}
const loadTexts = (page: Page) => page.evaluate(() => (window as unknown as { __loadTexts: string[] }).__loadTexts);

/** Drags with the mouse from image pixel `from` to `to` (image → page through the stage's fit). */
async function dragOnImage(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const { fit } = await demoState(page);
  const stage = (await page.locator('#stage').boundingBox())!;
  const at = ([x, y]: [number, number]) => ({ x: stage.x + fit.offsetX + x * fit.scale, y: stage.y + fit.offsetY + y * fit.scale });
  const a = at(from);
  const b = at(to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
  await page.mouse.move(b.x, b.y, { steps: 4 });
  await page.mouse.up();
}

/** A threshold (slider step 0.001) that keeps the `keep` best of these scores, ties included. */
function thresholdKeeping(scores: readonly number[], keep: number): number {
  const sorted = [...scores].sort((a, b) => b - a);
  return Math.floor((sorted[Math.min(keep, sorted.length) - 1] ?? 0) * 1000) / 1000;
}

/** Re-queries on the same picture reuse its encoder memory (the demo sends a PreparedImage). */
function expectReuse(state: DemoState): void {
  expect(state.preparedImages, state.errors.join('; ')).toBe(true);
  expect(state.lastOneShot?.reusedImageFeatures).toBe(true);
}

test.describe.configure({ mode: 'serial' });
// Chromium's fake camera (a moving test pattern, 640x480) for the webcam step; permission granted.
test.use({
  launchOptions: {
    executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
    args: [...chromiumWebGpuArgs, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  },
});

test('default page: the shipped detector on a bundled photo equals the runtime; threshold filters without a new run; "Find similar" by dragging', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const detector = shippedPackage('detector');
  await recordLoadTexts(page);
  await openDemo(page, ''); // no query string: what `npm start` shows
  const layoutBefore = await page.evaluate(() =>
    ['#stage', '#results', '.panel'].map((s) => JSON.stringify(document.querySelector(s)!.getBoundingClientRect())),
  );
  // The photo shows while the model downloads: the bare frame every pixel check compares with.
  await page.waitForFunction(() => window.__webdetrDemo?.image !== null);
  const bare = await stageShot(page, '00-photo-before-run');
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 120_000 });
  // The byte progress bar counted against the package's total (from its manifest), then said it was preparing.
  const texts = await loadTexts(page);
  const total = new RegExp(
    `^Loading the model: [\\d.]+ [kM]?B of ${detector.megabytes.replace('.', '\\.')} MB \\(file \\d+ of ${detector.files}\\)$`,
  );
  expect(texts.filter((t) => total.test(t)).length, texts.join('\n')).toBeGreaterThan(0);
  expect(texts).toContain(`Loading the model: all ${detector.megabytes} MB downloaded; preparing it to run…`);
  const loaded = await demoState(page);
  expect(loaded.model?.detection).toBe(true);
  // backend auto on SwiftShader (a CPU fallback adapter) runs WASM, and the page says why.
  expect(loaded.backend?.name).toBe('wasm');
  await expect(page.locator('#backend')).toContainText(/Running on WASM.*(CPU fallback|WebGPU unavailable)/);
  await expect(page.locator('#load-text')).toContainText(/^The model loaded\. Model: Deformable-DETR .*, \d+ classes, input \d+×\d+/);

  // The page opens the Astronaut sample by itself and detects as soon as the model is ready.
  await page.waitForFunction(() => window.__webdetrDemo?.lastDetect !== null && window.__webdetrDemo?.busy === false, undefined, {
    timeout: 90_000,
  });
  const state = await demoState(page);
  expect(state.image).toEqual({ name: 'Astronaut', width: 512, height: 512 });
  expect(state.runs).toBe(1);

  // The same file through the public API in the same page: identical detections. Same URL and
  // options as the demo, so it shares the page's loaded model (no second download on a slow CI).
  const direct = await page.evaluate(async () => {
    const entry = '/src/index.ts'; // served by vite, imported by the page
    const { createDetector } = (await import(entry)) as typeof import('../src/index.js');
    const api = await createDetector({ model: '/models/detector/manifest.json' });
    const blob = await (await fetch('/samples/astronaut.jpg')).blob();
    const result = await api.detect(blob, { threshold: 0 });
    await api.dispose();
    return result.detections;
  });
  const shown = state.lastDetect?.detections ?? [];
  expect(shown.length).toBe(direct.length);
  expect(shown.length).toBeGreaterThan(0);
  shown.forEach((d, i) => {
    const o = direct[i]!;
    expect(d.label).toBe(o.label);
    expect(Math.abs(d.score - o.score)).toBeLessThanOrEqual(1e-6);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - o.box[k])).toBeLessThanOrEqual(1e-3);
  });

  // A threshold leaving a handful of boxes.
  const scores = shown.map((d) => d.score);
  const t1 = thresholdKeeping(scores, 4);
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(t1));
  let now = await demoState(page);
  const expected1 = shown.filter((d) => d.score >= t1);
  expect(now.drawn.length).toBe(expected1.length);
  expect(now.drawn.map((d) => d.label)).toEqual(expected1.map((d) => `${d.label} ${Math.round(d.score * 100)}%`));
  const withBoxes = await stageShot(page, '01-detect-boxes');
  const drawn1 = now.drawn;
  // The list is best first and boxes are painted lowest score first (src/overlay/label-layout.ts): the
  // boxes before one in the list are painted over it.
  const coverage1 = await Promise.all(
    drawn1.map((box, i) =>
      paintedCoverage(
        page,
        withBoxes,
        bare,
        box,
        drawn1.slice(0, i).map((b) => b.stageRect),
      ),
    ),
  );
  console.log(
    `demo detect: ${shown.length} raw, ${drawn1.length} drawn at threshold ${t1}; painted edge coverage ${coverage1.map((c) => c.toFixed(2)).join(', ')}`,
  );
  // The top-drawn (best) box is occluded by nothing; the others may be partly covered by better boxes.
  expect(coverage1[0]).toBeGreaterThanOrEqual(0.9);
  for (const c of coverage1) if (!Number.isNaN(c)) expect(c).toBeGreaterThanOrEqual(0.6);
  // Same frame with boxes hidden: nothing painted along those edges.
  await page.getByLabel('Show boxes').uncheck();
  const hidden = await stageShot(page, '02-detect-boxes-hidden');
  for (const box of drawn1) expect(await paintedCoverage(page, hidden, bare, box)).toBeLessThanOrEqual(0.2);
  await page.getByLabel('Show boxes').check();

  // A higher threshold: fewer boxes, no model run; the removed boxes' edges are the bare photo again.
  const t2 = thresholdKeeping(scores, 1);
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(t2));
  now = await demoState(page);
  expect(now.runs).toBe(1);
  const kept = now.drawn;
  expect(kept.length).toBeLessThan(drawn1.length);
  expect(kept.length).toBeGreaterThan(0);
  const fewer = await stageShot(page, '03-detect-higher-threshold');
  expect(await paintedCoverage(page, fewer, bare, kept[0]!)).toBeGreaterThanOrEqual(0.9);
  const removed = drawn1.filter((d) => !kept.some((k) => k.label === d.label && k.stageRect.x === d.stageRect.x));
  for (const box of removed) {
    const c = await paintedCoverage(
      page,
      fewer,
      bare,
      box,
      kept.map((k) => k.stageRect),
    );
    if (!Number.isNaN(c)) expect(c).toBeLessThanOrEqual(0.2);
  }
  // The results list and the class filter follow; the timings table is filled.
  await expect(page.locator('#results li')).toHaveCount(kept.length);
  await expect(page.locator('#timings')).toContainText(/Total\s*\d/);
  // Nothing above a threshold of 1: the list says how close the best one came.
  await page.getByRole('slider', { name: 'Minimum score' }).fill('1');
  await expect(page.locator('#results-summary')).toHaveText(
    `none ≥ 1.00 (best ${Math.max(...scores).toFixed(2)}): lower the minimum score`,
  );
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(t2));

  // Hovering a box on the picture highlights its row; hovering a row highlights its box.
  const stageBox = (await page.locator('#stage').boundingBox())!;
  const target = kept.at(-1)!.stageRect;
  await page.mouse.move(stageBox.x + target.x + 3, stageBox.y + target.y + target.height - 3);
  await expect(page.locator('#results li.highlight')).toHaveCount(1);
  await page.locator('#results li').first().hover();
  await expect(page.locator('#results li.highlight')).toHaveCount(1);
  // The class filter stays in its panel (its rows once covered the whole page).
  const panel = (await page.locator('.panel').boundingBox())!;
  for (const row of await page.locator('#class-list label').all()) {
    const r = (await row.boundingBox())!;
    expect(r.x >= panel.x && r.x + r.width <= panel.x + panel.width && r.height < 60).toBe(true);
  }
  await page.screenshot({ path: `${SHOTS}/04-detect-page.png`, fullPage: true });
  const layoutAfter = await page.evaluate(() =>
    ['#stage', '#results', '.panel'].map((s) => JSON.stringify(document.querySelector(s)!.getBoundingClientRect())),
  );
  expect(layoutAfter).toEqual(layoutBefore);

  // Phone-sized viewport: no horizontal overflow, the picture and the controls still there.
  await page.mouse.move(1, 1); // un-hover: no highlighted box
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const phone = await demoState(page);
  const phoneShot = await stageShot(page, '05-detect-phone');
  expect(await colourCoverage(page, phoneShot, phone.drawn[0]!)).toBeGreaterThanOrEqual(0.9);
  await page.screenshot({ path: `${SHOTS}/06-detect-phone-page.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });

  // "Find similar": the shipped one-shot model starts loading; a patch dragged meanwhile is queued
  // and the picture says so, then its matches are drawn in the patch's colour.
  const oneshot = shippedPackage('oneshot');
  // Its graphs are held until the patch is dragged: with onnxruntime's runtime warm the load can otherwise end
  // before the drag does, and the queued state this checks never shows.
  let releaseGraphs = () => {};
  const graphsHeld = new Promise<void>((resolve) => {
    releaseGraphs = resolve;
  });
  await page.route('**/models/oneshot/*.onnx', async (route) => {
    await graphsHeld;
    await route.continue();
  });
  await page.getByLabel('Find similar').check();
  await expect(page.locator('#stage-cta')).toBeVisible();
  const beforePatch = await stageShot(page, '08-find-similar-before');
  await page.getByRole('slider', { name: 'Minimum score' }).fill('0');
  await dragOnImage(page, [190, 70], [320, 230]); // the astronaut's head
  await expect(page.locator('#busy')).toHaveText(/^Loading the one-shot model, then finding similar objects/);
  releaseGraphs();
  await page.waitForFunction(() => window.__webdetrDemo?.lastOneShot !== null && window.__webdetrDemo?.busy === false, undefined, {
    timeout: 120_000,
  });
  const loadedTexts = await loadTexts(page);
  expect(loadedTexts).toContain(`Loading the one-shot model: all ${oneshot.megabytes} MB downloaded; preparing it to run…`);
  await expect(page.locator('#load-text')).toContainText(/^The one-shot model loaded\. Model: .*finds objects like the patch you drag/);
  const found = await demoState(page);
  expect(found.patches).toHaveLength(1);
  expect(found.lastOneShot?.patches).toHaveLength(1);
  const matchScores = found.lastOneShot!.patches[0]!.detections.map((d) => d.score);
  expect(matchScores.length).toBeGreaterThan(0);
  const t3 = thresholdKeeping(matchScores, 3);
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(t3));
  const similar = await demoState(page);
  const matches = similar.drawn.filter((d) => !d.dashed);
  expect(matches.length).toBe(matchScores.filter((s) => s >= t3).length);
  const similarShot = await stageShot(page, '09-find-similar-mouse');
  // The top-drawn (best) match is painted in the patch colour (checked against the frame before the patch).
  expect(await paintedCoverage(page, similarShot, beforePatch, matches[0]!)).toBeGreaterThanOrEqual(0.9);
  await expect(page.locator('#results li.heading')).toContainText(`${matches.length} similar`);
  await page.screenshot({ path: `${SHOTS}/10-find-similar-page.png`, fullPage: true });

  // Webcam (chromium's fake camera) in Detect mode (in Find similar it searches for dragged patches:
  // e2e/live-video.spec.ts), running on the live frames until stopped.
  await page.getByLabel('Detect objects').check();
  const runsBeforeWebcam = (await demoState(page)).runs;
  await page.getByRole('button', { name: 'Webcam' }).click();
  await page.waitForFunction((n) => window.__webdetrDemo!.runs >= n + 2, runsBeforeWebcam, { timeout: 120_000 });
  // Stopping freezes the last frame and its boxes (a result still in flight is dropped).
  await page.getByRole('button', { name: 'Stop webcam' }).click();
  await expect(page.getByRole('button', { name: 'Webcam' })).toHaveAttribute('aria-pressed', 'false');
  const frozen = await demoState(page);
  expect(frozen.mode).toBe('detect');
  const best = Math.max(...(frozen.lastDetect?.detections ?? []).map((d) => d.score));
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(Math.floor(best * 1000) / 1000));
  const live = await demoState(page);
  expect(live.runs).toBe(frozen.runs);
  expect(live.lastDetect?.imageSize).toEqual({ width: 640, height: 480 });
  expect(live.errors).toEqual([]);
  expect(live.drawn.length).toBeGreaterThan(0);
  const webcamShot = await stageShot(page, '07-webcam');
  expect(await colourCoverage(page, webcamShot, live.drawn[0]!)).toBeGreaterThanOrEqual(0.9);
});

test('one-shot with the shipped model, in a chromium without WebGPU: drag patches with the mouse, then keyboard only', async ({
  baseURL,
}) => {
  test.setTimeout(240_000);
  // Same flags as e2e/wasm-fallback.spec.ts: no WebGPU at all, so `auto` must fall back to WASM and say so.
  const browser = await chromium.launch({
    executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-features=WebGPU', '--disable-gpu'],
  });
  const page = await browser.newPage({ baseURL });
  try {
    await oneShotSteps(page);
  } finally {
    await browser.close();
  }
});

async function oneShotSteps(page: Page): Promise<void> {
  // The one-shot model as the page's only model: detection is unavailable and the page says why.
  await openDemo(page, 'model=models/oneshot/manifest.json&cache=0');
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true && window.__webdetrDemo.mode === 'oneshot', undefined, {
    timeout: 120_000,
  });
  const loaded = await demoState(page);
  expect(loaded.backend?.name).toBe('wasm');
  expect(loaded.model?.detection).toBe(false);
  expect(loaded.model?.maxPatches).toBe(10);
  await expect(page.locator('#backend')).toContainText(/Running on WASM.*WebGPU unavailable/);
  await expect(page.getByLabel('Detect objects')).toBeDisabled();
  await page.screenshot({ path: `${SHOTS}/11-no-webgpu-page.png`, fullPage: true });
  await page.waitForFunction(() => window.__webdetrDemo?.image !== null);
  const before = await stageShot(page, '11-oneshot-before');
  await page.getByRole('slider', { name: 'Minimum score' }).fill('0');
  await dragOnImage(page, [180, 60], [330, 230]);
  await page.waitForFunction(() => window.__webdetrDemo?.lastOneShot !== null && window.__webdetrDemo?.busy === false, undefined, {
    timeout: 90_000,
  });
  let state = await demoState(page);
  expect(state.patches).toHaveLength(1);
  const patch = state.patches[0]!;
  expect(Math.abs(patch.x - 180)).toBeLessThanOrEqual(2);
  expect(Math.abs(patch.y + patch.height - 230)).toBeLessThanOrEqual(2);
  expect(state.lastOneShot?.patches).toHaveLength(1);
  const matches = state.drawn.filter((d) => !d.dashed);
  // Threshold 0: every match the runtime returned is drawn (the model's top-k per patch).
  expect(matches.length).toBe(state.lastOneShot?.patches[0]?.detections.length);
  expect(matches.length).toBeGreaterThan(0);
  const dragged = await stageShot(page, '12-oneshot-mouse');
  // The best match is drawn on top: its outline is painted in the patch colour.
  expect(await paintedCoverage(page, dragged, before, matches[0]!)).toBeGreaterThanOrEqual(0.9);

  // A second patch by drag: both patches are queried on the prepared image; the encoder is skipped.
  await dragOnImage(page, [60, 300], [200, 460]);
  await page.waitForFunction(() => window.__webdetrDemo?.runs === 2 && window.__webdetrDemo?.busy === false, undefined, {
    timeout: 90_000,
  });
  state = await demoState(page);
  expect(state.lastOneShot?.patches).toHaveLength(2);
  expectReuse(state);
  await expect(page.locator('#timings-note')).toContainText('Image features reused');
  expect(new Set(state.drawn.map((x) => x.rgb.join())).size).toBe(2);
  // The best few matches per patch, for a readable screenshot (threshold 0 draws every query's box).
  const perPatch = state.lastOneShot!.patches.map((p) =>
    thresholdKeeping(
      p.detections.map((d) => d.score),
      3,
    ),
  );
  await page.getByRole('slider', { name: 'Minimum score' }).fill(String(Math.min(...perPatch)));
  await stageShot(page, '13-oneshot-two-patches');
  await page.screenshot({ path: `${SHOTS}/14-oneshot-page.png`, fullPage: true });
  await page.getByRole('slider', { name: 'Minimum score' }).fill('0');

  // Keyboard only: remove both patches, add one with N, move and resize it, Enter runs.
  await page.locator('#stage').focus();
  await page.keyboard.press('Delete');
  await page.keyboard.press('Delete');
  await page.waitForFunction(() => window.__webdetrDemo?.patches.length === 0 && window.__webdetrDemo?.busy === false);
  const runsBefore = (await demoState(page)).runs;
  const cleared = await stageShot(page, '15-oneshot-cleared');
  await page.keyboard.press('n');
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  for (let i = 0; i < 2; i++) await page.keyboard.press('Shift+ArrowDown');
  state = await demoState(page);
  const step = Math.round(512 * 0.02);
  expect(state.patches).toEqual([{ x: 192 + 3 * step, y: 192, width: 128, height: 128 + 2 * step }]);
  expect(state.runs).toBe(runsBefore);
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => window.__webdetrDemo!.runs === n + 1 && window.__webdetrDemo!.busy === false, runsBefore, {
    timeout: 90_000,
  });
  state = await demoState(page);
  expectReuse(state);
  const keyboardMatches = state.drawn.filter((x) => !x.dashed);
  expect(keyboardMatches.length).toBe(state.lastOneShot?.patches[0]?.detections.length);
  expect(keyboardMatches.length).toBeGreaterThan(0);
  const keyed = await stageShot(page, '16-oneshot-keyboard');
  expect(await paintedCoverage(page, keyed, cleared, keyboardMatches[0]!)).toBeGreaterThanOrEqual(0.9);
  // Above every score only the query patch stays, dashed in its colour; the list says how close the best match came.
  await page.getByRole('slider', { name: 'Minimum score' }).fill('1');
  const patchOnly = await demoState(page);
  expect(patchOnly.drawn.map((x) => x.dashed)).toEqual([true]);
  const best = Math.max(...state.lastOneShot!.patches[0]!.detections.map((d) => d.score));
  await expect(page.locator('#results li.heading')).toContainText(`none ≥ 100%, best ${Math.round(best * 100)}%`);
  const patchShot = await stageShot(page, '17-oneshot-patch-only');
  // Dashes: about 8 of every 13 px painted.
  expect(await paintedCoverage(page, patchShot, cleared, patchOnly.drawn[0]!)).toBeGreaterThanOrEqual(0.3);

  // Shrunk by keyboard under 0.2 of the picture's side (98 of 512 px), the patch is also searched in the
  // package's zoom windows, and the page says so.
  await page.getByRole('slider', { name: 'Minimum score' }).fill('0');
  await page.locator('#stage').focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowLeft');
  for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowUp');
  expect((await demoState(page)).patches[0]).toMatchObject({ width: 128 - 3 * step, height: 128 - 3 * step });
  const runsBeforeZoom = (await demoState(page)).runs;
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => window.__webdetrDemo!.runs === n + 1 && window.__webdetrDemo!.busy === false, runsBeforeZoom, {
    timeout: 90_000,
  });
  state = await demoState(page);
  expect(state.lastOneShot?.patches[0]?.views).toBe(5);
  await expect(page.locator('#timings-note')).toContainText('Zoomed search: a small patch was also searched in 4 enlarged windows');
  // Shift+Delete removes every patch at once (the embed's former Escape); Escape only deselects.
  await page.keyboard.press('Escape');
  expect((await demoState(page)).patches).toHaveLength(1);
  await page.keyboard.press('Shift+Delete');
  await page.waitForFunction(() => window.__webdetrDemo?.patches.length === 0 && window.__webdetrDemo?.lastOneShot === null);
  expect(state.errors).toEqual([]);
}

test('a missing model is explained, and the picture still opens', async ({ page }) => {
  await openDemo(page, 'model=/no/such/model/manifest.json&backend=wasm&cache=0');
  await expect(page.locator('#load-text')).toContainText(/No model package at .*404/, { timeout: 30_000 });
  await page.waitForFunction(() => window.__webdetrDemo?.image?.name === 'Astronaut');
  await page.screenshot({ path: `${SHOTS}/21-missing-model.png`, fullPage: true });
  // The footer's links (sample credits, the shipped models' cards) lead somewhere.
  for (const href of await page.locator('.site-footer a').evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).href))) {
    expect((await page.request.get(href)).status(), href).toBe(200);
  }
  // Drop and paste open pictures too (a File built in the page from a bundled sample).
  for (const [how, name] of [
    ['drop', 'cat.jpg'],
    ['paste', 'pasted image'],
  ] as const) {
    await page.evaluate(async (how) => {
      const blob = await (await fetch('/samples/chelsea.jpg')).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'cat.jpg', { type: 'image/jpeg' }));
      if (how === 'drop') {
        document.getElementById('stage')!.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
        document.getElementById('stage')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
      } else {
        document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      }
    }, how);
    await page.waitForFunction((n) => window.__webdetrDemo?.image?.name === n, name);
    expect((await demoState(page)).image).toEqual({ name, width: 451, height: 300 });
  }
});

test('one model load fetches its manifest once (the worker reads it; the progress bar gets the totals from the load events)', async ({
  page,
}) => {
  test.setTimeout(120_000);
  // Every request of the page and its worker, by path.
  const paths: string[] = [];
  page.context().on('request', (request) => paths.push(new URL(request.url()).pathname));
  await recordLoadTexts(page);
  await openDemo(page, 'model=/test/fixtures/packages/tiny/manifest.json&backend=wasm&cache=0&image=none');
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 90_000 });
  expect(paths.filter((p) => p.endsWith('manifest.json'))).toEqual(['/test/fixtures/packages/tiny/manifest.json']);
  // The byte progress still knows the whole download: "file k of n" with n the graph files fetched.
  const graphs = paths.filter((p) => p.startsWith('/test/fixtures/packages/tiny/') && p.endsWith('.onnx'));
  expect(graphs.length).toBeGreaterThan(0);
  const texts = await loadTexts(page);
  // n counts onnxruntime's .wasm, fetched first by the page.
  expect(
    texts.filter((t) => new RegExp(`^Loading the model: [\\d.]+ [kM]?B of [\\d.]+ MB \\(file \\d+ of ${graphs.length + 1}\\)$`).test(t))
      .length,
    texts.join('\n'),
  ).toBeGreaterThan(0);
  expect((await demoState(page)).errors).toEqual([]);
});
