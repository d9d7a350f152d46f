/**
 * Live video (issue 30) in the demo, with chromium's fake camera playing a y4m made at test time from a
 * bundled photo (a slow pan over public/samples/astronaut.jpg, 320x240, 30 fps; never committed): the
 * webcam detects frame after frame (detector.watch), shows frames per second and each stage's time;
 * in Find similar one drag on the live view is described on the frame shown and every later frame is
 * searched for it (boxes on later frames); memory (detector.stats()) is flat over 300 frames. Tiny
 * test packages on WASM, so frames are quick. Also describePatches through the worker API: describe on
 * A then search A equals detectWithPatches(A, rects) without zoom, and a changed set is a typed InputError.
 * And <web-detr mode="one-shot" camera>: one drag on its live canvas, matches in later frames' events.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { chromiumWebGpuArgs } from '../cli/chromium-flags.mjs';
import type { DemoState } from '../src/ui/dom.js';

const TINY = '/test/fixtures/packages/tiny/manifest.json';
const TINY_ONESHOT = '/test/fixtures/packages/tiny-oneshot/manifest.json';
const WIDTH = 320;
const HEIGHT = 240;
const FRAMES = 60;
const Y4M = resolve('test-results/fake-camera.y4m');
const chromiumPath = process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium';

/** RGBA frames (a pan across the photo) -> YUV 4:2:0 (BT.601, limited range) in a YUV4MPEG2 file. */
function writeY4m(frames: Uint8Array[]): void {
  const header = Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F30:1 Ip A1:1 C420jpeg\n`, 'ascii');
  const parts: Buffer[] = [header];
  for (const rgba of frames) {
    const y = Buffer.alloc(WIDTH * HEIGHT);
    const u = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2));
    const v = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2));
    for (let i = 0; i < WIDTH * HEIGHT; i++) {
      const [r, g, b] = [rgba[4 * i]!, rgba[4 * i + 1]!, rgba[4 * i + 2]!];
      y[i] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
    }
    for (let row = 0; row < HEIGHT / 2; row++) {
      for (let col = 0; col < WIDTH / 2; col++) {
        const i = 2 * row * WIDTH + 2 * col;
        const [r, g, b] = [rgba[4 * i]!, rgba[4 * i + 1]!, rgba[4 * i + 2]!];
        u[row * (WIDTH / 2) + col] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
        v[row * (WIDTH / 2) + col] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
      }
    }
    parts.push(Buffer.from('FRAME\n', 'ascii'), y, u, v);
  }
  writeFileSync(Y4M, Buffer.concat(parts));
}

let browser: Browser;
let page: Page;
const demoState = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__webdetrDemo)) as DemoState);

test.beforeAll(async ({ baseURL }) => {
  mkdirSync('test-results', { recursive: true });
  // The frames, decoded and cropped by chromium itself (no image library needed in Node).
  const plain = await chromium.launch({ executablePath: chromiumPath });
  const decoder = await plain.newPage();
  await decoder.goto(`${baseURL}/e2e/pages/index.html`);
  const frames = await decoder.evaluate(
    async ({ width, height, count }) => {
      const bitmap = await createImageBitmap(await (await fetch('/samples/astronaut.jpg')).blob());
      const canvas = new OffscreenCanvas(width, height);
      const context = canvas.getContext('2d')!;
      const out: string[] = [];
      for (let k = 0; k < count; k++) {
        // A 400x300 window panning 2 px a frame, scaled to the camera size; base64 keeps the transfer small.
        context.drawImage(bitmap, 40 + 2 * k, 60, 400, 300, 0, 0, width, height);
        const bytes = context.getImageData(0, 0, width, height).data;
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        out.push(btoa(text));
      }
      return out;
    },
    { width: WIDTH, height: HEIGHT, count: FRAMES },
  );
  await plain.close();
  writeY4m(frames.map((f) => new Uint8Array(Buffer.from(f, 'base64'))));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      ...chromiumWebGpuArgs,
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${Y4M}`,
    ],
  });
  page = await browser.newPage({ baseURL });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
});
test.afterAll(async () => browser?.close());

test('webcam: live detection with frames per second, one drag in Find similar is searched in later frames, memory flat over 300 frames', async () => {
  test.setTimeout(600_000);
  await page.goto(`/index.html?model=${TINY}&oneshot=${TINY_ONESHOT}&backend=wasm&cache=0&image=none`);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 120_000 });
  await page.getByRole('button', { name: 'Webcam' }).click();
  // Detect mode: results keep coming, the panel shows the rate and the stages of the last frame.
  await page.waitForFunction(() => (window.__webdetrDemo?.live?.results ?? 0) >= 5, undefined, { timeout: 120_000 });
  const detecting = await demoState();
  expect(detecting.lastDetect?.imageSize).toEqual({ width: WIDTH, height: HEIGHT });
  expect(detecting.live!.fps).toBeGreaterThan(0);
  await expect(page.locator('#timings-note')).toContainText(/^Live: [\d.]+ frames\/s, \d+ ms from frame to boxes/);
  await expect(page.locator('#timings tr.total td')).toHaveText(/\d+(\.\d)? ms/);
  await page.screenshot({ path: 'test-results/live-detect.png' });

  // Find similar: idle until a drag; one drag on the live view, then later frames are searched for it.
  await page.getByLabel('Find similar').check();
  await page.waitForFunction(() => window.__webdetrDemo?.live?.searching === 0 || window.__webdetrDemo?.live === null);
  const { fit } = await demoState();
  const stage = (await page.locator('#stage').boundingBox())!;
  const at = (x: number, y: number) => ({ x: stage.x + fit.offsetX + x * fit.scale, y: stage.y + fit.offsetY + y * fit.scale });
  const a = at(100, 30);
  const b = at(220, 150);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
  await page.mouse.move(b.x, b.y, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(
    () => window.__webdetrDemo?.live?.searching === 1 && (window.__webdetrDemo.live.results ?? 0) >= 3,
    undefined,
    { timeout: 120_000 },
  );
  const first = await demoState();
  const firstTime = first.live!.mediaTime;
  await page.getByRole('slider', { name: 'Minimum score' }).fill('0');
  await page.waitForFunction(
    (t) => (window.__webdetrDemo?.live?.mediaTime ?? 0) > t && (window.__webdetrDemo?.lastOneShot?.patches[0]?.detections.length ?? 0) > 0,
    firstTime,
    { timeout: 60_000 },
  );
  const later = await demoState();
  expect(later.patches).toHaveLength(1);
  expect(later.lastOneShot!.patches).toHaveLength(1);
  expect(later.drawn.filter((d) => !d.dashed).length).toBeGreaterThan(0);
  await page.screenshot({ path: 'test-results/live-find-similar.png' });

  // Memory: after 50 warm-up frames, 300 more leave every counter where it was.
  const results = () => page.evaluate(() => window.__webdetrDemo?.live?.results ?? 0);
  const start = await results();
  await page.waitForFunction((n) => (window.__webdetrDemo?.live?.results ?? 0) >= n, start + 50, { timeout: 300_000 });
  const before = await page.evaluate(() => window.__webdetrDemoStats!());
  const from = await results();
  await page.waitForFunction((n) => (window.__webdetrDemo?.live?.results ?? 0) >= n, from + 300, { timeout: 500_000 });
  const after = await page.evaluate(() => window.__webdetrDemoStats!());
  console.log(`live: ${(await results()) - from} frames; ${JSON.stringify(after.oneShot)}; dropped ${(await demoState()).live!.dropped}`);
  expect(after.oneShot!.preparedImages).toBe(before.oneShot!.preparedImages);
  expect(after.oneShot!.sessions).toBe(before.oneShot!.sessions);
  expect(after.oneShot!.wasmMemoryBytes).toBe(before.oneShot!.wasmMemoryBytes);
  expect((await demoState()).errors).toEqual([]);

  // Shift+Delete on the picture clears the patches: the live search stops.
  await page.locator('#stage').focus();
  await page.keyboard.press('Shift+Delete');
  await page.waitForFunction(() => window.__webdetrDemo?.patches.length === 0 && window.__webdetrDemo.live?.searching === 0);
  await page.getByRole('button', { name: 'Stop webcam' }).click();
});

test('describePatches through the worker: describe A then search A equals detectWithPatches(A, rects) without zoom; a changed set is a typed InputError', async () => {
  test.setTimeout(180_000);
  const out = await page.evaluate(async (model) => {
    const { createDetector } = await import('/src/api/create-detector.ts' as string);
    const errors = await import('/src/errors.ts' as string);
    const detector = await createDetector({ model, backend: 'wasm', cache: false });
    const image = new ImageData(160, 120);
    for (let i = 0; i < image.data.length; i += 4) image.data.set([(i * 7) % 256, (i * 13) % 256, (i * 3) % 256, 255], i);
    const rects = [
      { x: 20, y: 10, width: 70, height: 60 },
      { x: 90, y: 50, width: 60, height: 60 },
    ];
    const described = await detector.describePatches(image, rects);
    const direct = await detector.detectWithPatches(image, rects, { zoom: false, threshold: 0, raw: true });
    const via = await detector.detectWithPatches(image, described, { threshold: 0, raw: true });
    const changed = {
      ...described,
      descriptors: Float32Array.from(described.descriptors, (v: number, i: number) => (i === 5 ? v + 1 : v)),
    };
    const rejected = await detector.detectWithPatches(image, changed).then(
      () => null,
      (e: unknown) => e,
    );
    await detector.dispose();
    return {
      same:
        JSON.stringify(Array.from(direct.raw.logits)) === JSON.stringify(Array.from(via.raw.logits)) &&
        JSON.stringify(Array.from(direct.raw.boxes)) === JSON.stringify(Array.from(via.raw.boxes)),
      isFloat32: described.descriptors instanceof Float32Array,
      rejected:
        rejected === null
          ? null
          : {
              isInputError: rejected instanceof errors.InputError,
              code: (rejected as { code: string }).code,
              message: (rejected as Error).message,
            },
    };
  }, TINY_ONESHOT);
  expect(out.same).toBe(true);
  expect(out.isFloat32).toBe(true);
  expect(out.rejected).toMatchObject({ isInputError: true, code: 'invalid-input', message: expect.stringMatching(/checksum/) });
});

test('<web-detr mode="one-shot" camera>: a box dragged on the live video is searched in every later frame', async () => {
  test.setTimeout(240_000);
  await page.goto('/e2e/pages/embed-live.html');
  const status = page.locator('#live').locator('[part="status"]');
  await expect(status).toHaveText(/^Live one-shot: drag a box/, { timeout: 120_000 });
  const canvas = (await page.locator('#live').locator('canvas').boundingBox())!;
  const size = await page
    .locator('#live')
    .locator('canvas')
    .evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height }));
  expect(size).toEqual({ width: WIDTH, height: HEIGHT });
  const at = (x: number, y: number) => ({ x: canvas.x + (x * canvas.width) / WIDTH, y: canvas.y + (y * canvas.height) / HEIGHT });
  const a = at(100, 30);
  const b = at(220, 150);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 6 });
  await page.mouse.up();
  // Several frames' results, each with the one patch's matches, and the rate in the status line.
  await page.waitForFunction(
    () =>
      (window as unknown as { __live: { events: { patches: number[] }[] } }).__live.events.filter(
        (e) => e.patches.length === 1 && e.patches[0]! > 0,
      ).length >= 3,
    undefined,
    { timeout: 120_000 },
  );
  await expect(status).toHaveText(/found · \d+ ms · [\d.]+ frames\/s/);
  expect(await page.evaluate(() => (window as unknown as { __live: { errors: unknown[] } }).__live.errors)).toEqual([]);
  await page.screenshot({ path: 'test-results/embed-live-one-shot.png' });
  // Shift+Delete clears the patches: the element goes back to waiting for a drag.
  await page.locator('#live').locator('canvas').focus();
  await page.keyboard.press('Shift+Delete');
  await expect(status).toHaveText(/^Live one-shot: drag a box/);
});
