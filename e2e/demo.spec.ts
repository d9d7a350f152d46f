/**
 * The open demo (index.html + src/ui) in headless chromium, on small exported packages (64x96
 * input, official R50 layouts, synthetic weights, so the boxes are arbitrary but deterministic):
 * open a bundled photo, boxes are drawn and equal the runtime's own result for that file; the
 * threshold slider changes the drawing without another model run; one-shot by mouse drag and by
 * keyboard only; a missing model says so. Every step saves a screenshot (e2e/screenshots/) and
 * checks it by pixels: each reported box's outline colour is on screen along its edges, and absent
 * there when boxes are hidden or before the run.
 */
import { mkdirSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { chromium, expect, test, type Page } from '@playwright/test';
import type { DemoState } from '../src/ui/dom.js';
import { chromiumWebGpuArgs } from '../cli/chromium-flags.mjs';
import { smallFixture } from '../test/helpers/export-fixture.js';

const SHOTS = 'e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });

/** The shared 64x96 split-only package's manifest URL. */
function exportFixture(variant: string): string {
  return `/${relative(process.cwd(), resolve(smallFixture(variant).dir))}/manifest.json`;
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
  return page.evaluate(async ({ data, points }) => {
    const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${data}`)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d')!;
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return points.map(({ x, y }) => {
      const i = (Math.min(Math.max(y, 0), bitmap.height - 1) * bitmap.width + Math.min(Math.max(x, 0), bitmap.width - 1)) * 4;
      return [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0] as [number, number, number];
    });
  }, { data: png.toString('base64'), points });
}

const near = (a: [number, number, number], b: [number, number, number], tolerance = 40) => a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);

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
 * Re-queries must reuse the encoder memory of the prepared picture. The runtime at dcdc135 cannot
 * take a PreparedImage (comlink transfer() of its numeric id throws); the demo then falls back to
 * sending the file and records it, and this says so loudly instead of passing silently.
 */
function expectReuse(state: DemoState): void {
  if (!state.preparedImages) {
    test.info().annotations.push({ type: 'known API bug', description: state.errors.join('; ') });
    console.log(`KNOWN API BUG: prepared images unusable, encoder re-ran: ${state.errors.join('; ')}`);
    expect(state.lastOneShot?.reusedImageFeatures).toBe(false);
    return;
  }
  expect(state.lastOneShot?.reusedImageFeatures).toBe(true);
}

test.describe.configure({ mode: 'serial' });
// Chromium's fake camera (a moving test pattern, 640x480) for the webcam step; permission granted.
test.use({ launchOptions: { executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium', args: [...chromiumWebGpuArgs, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] } });

test('detection: a bundled photo gets boxes equal to the runtime result; threshold filters without a new run', async ({ page }) => {
  test.setTimeout(150_000);
  const model = exportFixture('deformable_plain');
  await openDemo(page, `model=${encodeURIComponent(model)}&cache=0&image=none`);
  const layoutBefore = await page.evaluate(() => ['#stage', '#results', '.panel'].map((s) => JSON.stringify(document.querySelector(s)!.getBoundingClientRect())));
  // The byte progress bar while the graphs download: a total from the manifest, not per file.
  await expect(page.locator('#load-text')).toContainText(/Loading the model: [\d.]+ [kM]?B of 160\.\d MB \(file \d+ of 13\)/, { timeout: 60_000 });
  expect(await page.locator('#load-bar').evaluate((bar: HTMLProgressElement) => bar.max)).toBeGreaterThan(160e6);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 90_000 });
  const loaded = await demoState(page);
  // backend auto on SwiftShader (a CPU fallback adapter) runs WASM and the page says why.
  expect(loaded.backend?.name).toBe('wasm');
  await expect(page.locator('#backend')).toContainText(/Running on WASM.*(CPU fallback|WebGPU unavailable)/);
  await expect(page.locator('#load-text')).toContainText('loaded');

  await page.getByRole('button', { name: 'Open sample photo: Coffee' }).click();
  await page.waitForFunction(() => window.__webdetrDemo?.lastDetect !== null && window.__webdetrDemo?.busy === false, undefined, { timeout: 60_000 });
  const state = await demoState(page);
  expect(state.image).toEqual({ name: 'Coffee', width: 600, height: 400 });
  expect(state.runs).toBe(1);

  // The same file through the public API in the same page: identical detections.
  const direct = await page.evaluate(async (modelUrl) => {
    const entry = '/src/index.ts'; // served by vite, imported by the page
    const { createDetector } = (await import(entry)) as typeof import('../src/index.js');
    const detector = await createDetector({ model: modelUrl, backend: 'auto', cache: false });
    const blob = await (await fetch('/samples/coffee.jpg')).blob();
    const result = await detector.detect(blob, { threshold: 0 });
    await detector.dispose();
    return result.detections;
  }, model);
  const shown = state.lastDetect?.detections ?? [];
  expect(shown.length).toBe(direct.length);
  expect(shown.length).toBeGreaterThan(0);
  shown.forEach((d, i) => {
    const o = direct[i]!;
    expect(d.label).toBe(o.label);
    expect(Math.abs(d.score - o.score)).toBeLessThanOrEqual(1e-6);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(d.box[k] - o.box[k])).toBeLessThanOrEqual(1e-3);
  });

  // A threshold leaving a handful of boxes (slider step 0.001: synthetic weights give scores 0.90xx).
  const scores = shown.map((d) => d.score).sort((a, b) => b - a);
  const thresholdFor = (keep: number) => Math.floor((scores[Math.min(keep, scores.length) - 1] ?? 0) * 1000) / 1000;
  const t1 = thresholdFor(4);
  await page.getByLabel('Minimum score').fill(String(t1));
  let now = await demoState(page);
  const expected1 = shown.filter((d) => d.score >= t1);
  expect(now.drawn.length).toBe(expected1.length);
  expect(now.drawn.map((d) => d.label)).toEqual(expected1.map((d) => `${d.label} ${Math.round(d.score * 100)}%`));
  const withBoxes = await stageShot(page, '01-detect-boxes');
  const drawn1 = now.drawn;
  const coverage1 = await Promise.all(drawn1.map((box, i) => colourCoverage(page, withBoxes, box, drawn1.slice(i + 1).map((b) => b.stageRect))));
  console.log(`demo detect: ${shown.length} raw, ${drawn1.length} drawn at threshold ${t1}; edge colour coverage ${coverage1.map((c) => c.toFixed(2)).join(', ')}`);
  // The top-drawn box is occluded by nothing; the others may be partly covered by later boxes.
  expect(coverage1.at(-1)).toBeGreaterThanOrEqual(0.9);
  for (const c of coverage1) if (!Number.isNaN(c)) expect(c).toBeGreaterThanOrEqual(0.6);

  // Same frame with boxes hidden: the colours are gone from those edges.
  await page.getByLabel('Show boxes').uncheck();
  const hidden = await stageShot(page, '02-detect-boxes-hidden');
  for (const box of drawn1) expect(await colourCoverage(page, hidden, box)).toBeLessThanOrEqual(0.2);
  await page.getByLabel('Show boxes').check();

  // A higher threshold: fewer boxes, no model run.
  const t2 = thresholdFor(1);
  await page.getByLabel('Minimum score').fill(String(t2));
  now = await demoState(page);
  expect(now.runs).toBe(1);
  const kept = now.drawn;
  expect(kept.length).toBeLessThan(drawn1.length);
  expect(kept.length).toBeGreaterThan(0);
  const fewer = await stageShot(page, '03-detect-higher-threshold');
  expect(await colourCoverage(page, fewer, kept.at(-1)!)).toBeGreaterThanOrEqual(0.9);
  const removed = drawn1.filter((d) => !kept.some((k) => k.label === d.label && k.stageRect.x === d.stageRect.x));
  for (const box of removed) {
    const c = await colourCoverage(page, fewer, box, kept.map((k) => k.stageRect));
    if (!Number.isNaN(c)) expect(c).toBeLessThanOrEqual(0.2);
  }
  // The results list and the class filter follow; the timings table is filled.
  await expect(page.locator('#results li')).toHaveCount(kept.length);
  await expect(page.locator('#timings')).toContainText(/Total\s*\d/);

  // Hovering a box on the picture highlights its row; hovering a row highlights its box.
  const stageBox = (await page.locator('#stage').boundingBox())!;
  const target = kept.at(-1)!.stageRect;
  await page.mouse.move(stageBox.x + target.x + 3, stageBox.y + target.y + target.height - 3);
  await expect(page.locator('#results li.highlight')).toHaveCount(1);
  await page.locator('#results li').first().hover();
  await expect(page.locator('#results li.highlight')).toHaveCount(1);
  await page.screenshot({ path: `${SHOTS}/04-detect-page.png`, fullPage: true });
  const layoutAfter = await page.evaluate(() => ['#stage', '#results', '.panel'].map((s) => JSON.stringify(document.querySelector(s)!.getBoundingClientRect())));
  expect(layoutAfter).toEqual(layoutBefore);

  // Phone-sized viewport: no horizontal overflow, the picture and the controls still there.
  await page.mouse.move(1, 1); // un-hover: no highlighted box
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const phone = await demoState(page);
  const phoneShot = await stageShot(page, '05-detect-phone');
  expect(await colourCoverage(page, phoneShot, phone.drawn.at(-1)!)).toBeGreaterThanOrEqual(0.9);
  await page.screenshot({ path: `${SHOTS}/06-detect-phone-page.png`, fullPage: true });

  // Webcam (chromium's fake camera): detection runs on the live frames in a loop until stopped.
  await page.setViewportSize({ width: 1280, height: 720 });
  const runsBeforeWebcam = (await demoState(page)).runs;
  await page.getByRole('button', { name: 'Webcam' }).click();
  await page.waitForFunction((n) => window.__webdetrDemo!.runs >= n + 2, runsBeforeWebcam, { timeout: 60_000 });
  // Stopping freezes the last frame and its boxes (a result still in flight is dropped).
  await page.getByRole('button', { name: 'Stop webcam' }).click();
  await expect(page.getByRole('button', { name: 'Webcam' })).toHaveAttribute('aria-pressed', 'false');
  const frozen = await demoState(page);
  const best = Math.max(...(frozen.lastDetect?.detections ?? []).map((d) => d.score));
  await page.getByLabel('Minimum score').fill(String(Math.floor(best * 1000) / 1000));
  const live = await demoState(page);
  expect(live.runs).toBe(frozen.runs);
  expect(live.lastDetect?.imageSize).toEqual({ width: 640, height: 480 });
  expect(live.errors.filter((e) => !e.startsWith('prepared images'))).toEqual([]);
  expect(live.drawn.length).toBeGreaterThan(0);
  const webcamShot = await stageShot(page, '07-webcam');
  expect(await colourCoverage(page, webcamShot, live.drawn.at(-1)!)).toBeGreaterThanOrEqual(0.9);
});

test('one-shot, in a chromium without WebGPU: drag a patch with the mouse, then keyboard only', async ({ baseURL }) => {
  test.setTimeout(150_000);
  // Same flags as e2e/wasm-fallback.spec.ts: no WebGPU at all, so `auto` must fall back to WASM and say so.
  const browser = await chromium.launch({ executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-features=WebGPU', '--disable-gpu'] });
  const page = await browser.newPage({ baseURL });
  try {
    await oneShotSteps(page);
  } finally {
    await browser.close();
  }
});

async function oneShotSteps(page: Page): Promise<void> {
  const model = exportFixture('updetr_pretrain');
  await openDemo(page, `model=${encodeURIComponent(model)}&cache=0&image=astronaut`);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true && window.__webdetrDemo.mode === 'oneshot', undefined, { timeout: 90_000 });
  expect((await demoState(page)).backend?.name).toBe('wasm');
  await expect(page.locator('#backend')).toContainText(/Running on WASM.*WebGPU unavailable/);
  await page.screenshot({ path: `${SHOTS}/10-no-webgpu-page.png`, fullPage: true });
  await page.waitForFunction(() => window.__webdetrDemo?.image !== null);
  await expect(page.getByLabel('Detect objects')).toBeDisabled();
  const before = await stageShot(page, '11-oneshot-before');
  const { fit } = await demoState(page);
  const box = (await page.locator('#stage').boundingBox())!;
  // Drag around the astronaut's face (image px 180..330 x 60..230 of 512x512).
  const at = (x: number, y: number) => ({ x: box.x + fit.offsetX + x * fit.scale, y: box.y + fit.offsetY + y * fit.scale });
  await page.getByLabel('Minimum score').fill('0');
  const a = at(180, 60);
  const b = at(330, 230);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
  await page.mouse.move(b.x, b.y, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => window.__webdetrDemo?.lastOneShot !== null && window.__webdetrDemo?.busy === false, undefined, { timeout: 60_000 });
  let state = await demoState(page);
  expect(state.patches).toHaveLength(1);
  const patch = state.patches[0]!;
  expect(Math.abs(patch.x - 180)).toBeLessThanOrEqual(2);
  expect(Math.abs(patch.y + patch.height - 230)).toBeLessThanOrEqual(2);
  expect(state.lastOneShot?.patches).toHaveLength(1);
  expect(state.lastOneShot?.reusedImageFeatures).toBe(false);
  const matches = state.drawn.filter((d) => !d.dashed);
  expect(matches.length).toBe(state.lastOneShot?.patches[0]?.detections.length);
  expect(matches.length).toBeGreaterThan(0);
  const dragged = await stageShot(page, '12-oneshot-mouse');
  // The last-drawn match is on top: its outline is the patch colour, which was not there before.
  const top = matches.at(-1)!;
  expect(await colourCoverage(page, dragged, top)).toBeGreaterThanOrEqual(0.9);
  expect(await colourCoverage(page, before, top)).toBeLessThanOrEqual(0.2);
  await expect(page.locator('#timings-note')).toContainText(state.preparedImages ? 'First query' : 'cannot reuse a prepared picture');

  // A second patch by drag: both patches are queried on the prepared image; the encoder is skipped.
  const c = at(60, 300);
  const d = at(200, 460);
  await page.mouse.move(c.x, c.y);
  await page.mouse.down();
  await page.mouse.move(d.x, d.y, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => window.__webdetrDemo?.runs === 2 && window.__webdetrDemo?.busy === false, undefined, { timeout: 60_000 });
  state = await demoState(page);
  expect(state.lastOneShot?.patches).toHaveLength(2);
  expectReuse(state);
  if (state.preparedImages) await expect(page.locator('#timings-note')).toContainText('Image features reused');
  const colours = new Set(state.drawn.map((x) => x.rgb.join()));
  expect(colours.size).toBe(2);
  await stageShot(page, '13-oneshot-two-patches');
  await page.screenshot({ path: `${SHOTS}/14-oneshot-page.png`, fullPage: true });

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
  await page.waitForFunction((n) => window.__webdetrDemo!.runs === n + 1 && window.__webdetrDemo!.busy === false, runsBefore, { timeout: 60_000 });
  state = await demoState(page);
  expectReuse(state);
  const keyboardMatches = state.drawn.filter((x) => !x.dashed);
  expect(keyboardMatches.length).toBeGreaterThan(0);
  const keyed = await stageShot(page, '16-oneshot-keyboard');
  expect(await colourCoverage(page, keyed, keyboardMatches.at(-1)!)).toBeGreaterThanOrEqual(0.9);
  expect(await colourCoverage(page, cleared, keyboardMatches.at(-1)!)).toBeLessThanOrEqual(0.2);
  // The query patch itself is drawn dashed in the same colour along its edges.
  const patchBox = state.drawn.find((x) => x.dashed)!;
  expect(await colourCoverage(page, keyed, patchBox, keyboardMatches.map((m) => m.stageRect))).toBeGreaterThanOrEqual(0.3);
}


test('a missing model is explained, and the picture still opens', async ({ page }) => {
  await openDemo(page, 'model=/no/such/model/manifest.json&backend=wasm&cache=0');
  await expect(page.locator('#load-text')).toContainText(/No model package at .*404/, { timeout: 30_000 });
  await page.waitForFunction(() => window.__webdetrDemo?.image?.name === 'Astronaut');
  await page.screenshot({ path: `${SHOTS}/21-missing-model.png`, fullPage: true });
  // Drop and paste open pictures too (a File built in the page from a bundled sample).
  for (const [how, name] of [['drop', 'cat.jpg'], ['paste', 'pasted image']] as const) {
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
