/**
 * <web-detr> while it loads (issue 30), on the script-tag build under the strict CSP: the picture shows
 * and the status line counts the download (onnxruntime's .wasm included, file k of n) before the model
 * is ready; two elements with different models (two workers) fetch onnxruntime's .wasm once; a missing
 * `src` picture fails with the typed code `image-fetch` (as a missing model gives `model-fetch`).
 * Tiny test packages on WASM: seconds, not minutes.
 */
import { execFileSync } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { serveWithStrictCsp, type StrictServer } from './embed/strict-csp-server.js';

let server: StrictServer;

test.beforeAll(async () => {
  execFileSync('npx', ['vite', 'build', '-c', 'vite.embed.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  server = await serveWithStrictCsp(
    { embed: 'dist/embed', 'model-a': 'test/fixtures/packages/tiny', 'model-b': 'test/fixtures/packages/tiny-oneshot', page: 'e2e/embed' },
    { files: { '/': 'e2e/embed/loading.html', '/page/photo.png': '../shared/reference/image.png' } },
  );
});
test.afterAll(async () => server.close());

interface EmbedState {
  events: { id: string; count: number }[];
  errors: { id: string; code: string; message: string }[];
  statuses: Record<string, string[]>;
}
const embedState = (page: import('@playwright/test').Page) => page.evaluate(() => (window as unknown as { __embed: EmbedState }).__embed);

test('picture and download progress while loading; two models, one .wasm fetch; a missing picture is image-fetch', async ({
  page,
  context,
}) => {
  test.setTimeout(240_000);
  // Hold the detector's graphs back a moment, so "while loading" lasts long enough to look at.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await context.route('**/model-a/*.onnx', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${server.base}/`);
  // While the graphs are held: the picture is drawn and the line counts the download (runtime included).
  await page.waitForFunction(
    () => {
      const state = (window as unknown as { __embed: EmbedState }).__embed;
      return state.statuses.detector?.some((t) => /^Loading model: [\d.]+ [kM]?B of [\d.]+ MB \(file \d+( of \d+)?\)$/.test(t));
    },
    undefined,
    { timeout: 120_000 },
  );
  const drawn = await page.evaluate(() => {
    const canvas = document.getElementById('detector')!.shadowRoot!.querySelector('canvas')!;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let opaque = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) opaque++;
    return {
      width: canvas.width,
      height: canvas.height,
      opaque,
      ready: (window as unknown as { __embed: EmbedState }).__embed.events.length,
    };
  });
  expect(drawn.ready).toBe(0);
  expect(drawn.width).toBeGreaterThan(1);
  expect(drawn.opaque).toBe(drawn.width * drawn.height);
  await page.screenshot({ path: 'test-results/embed-loading-while-loading.png', fullPage: true });
  release();

  await page.waitForFunction(
    () => (window as unknown as { __embed: EmbedState }).__embed.events.some((e) => e.id === 'detector'),
    undefined,
    { timeout: 180_000 },
  );
  const oneShot = page.locator('#oneshot').locator('[part="status"]');
  await expect(oneShot).toHaveText(/^One-shot: drag a box/, { timeout: 120_000 });
  const state = await embedState(page);
  // After the download the line said which step it waited for.
  expect(
    state.statuses.detector!.some((t) => /downloaded; (starting the WebAssembly runtime|creating onnxruntime sessions)…$/.test(t)),
    state.statuses.detector!.join('\n'),
  ).toBe(true);
  // Two workers (two models), onnxruntime's .wasm fetched once by the page for both.
  expect(server.requests.filter((r) => /\/assets\/worker-[^/]+\.js$/.test(r)).length).toBeGreaterThanOrEqual(2);
  expect(server.requests.filter((r) => /\/assets\/ort-wasm[^/]*\.wasm$/.test(r))).toHaveLength(1);
  // A missing picture: the typed code, as a missing model gives model-fetch.
  expect(state.errors).toEqual([expect.objectContaining({ id: 'missing', code: 'image-fetch' })]);
  await expect(page.locator('#missing').locator('[part="status"]')).toContainText('HTTP 404');
});
