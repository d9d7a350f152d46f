/**
 * Rough edges a new user hit in the demo (issue 30), on the tiny test packages on WASM so each check
 * takes seconds: the load line counts onnxruntime's .wasm in the download and then names the step it
 * waits for; the model line follows the mode (detect's model after switching back from Find similar);
 * the footer says what the default models are; on a phone (390x844) the backend notice is not cut off
 * and the results start above the fold. Screenshots go to e2e/screenshots/.
 */
import { mkdirSync, statSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import type { DemoState } from '../src/ui/dom.js';

const SHOTS = 'e2e/screenshots';
mkdirSync(SHOTS, { recursive: true });
const TINY = '/test/fixtures/packages/tiny/manifest.json';
const TINY_ONESHOT = '/test/fixtures/packages/tiny-oneshot/manifest.json';
const RUNTIME_BYTES = statSync('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm').size;

const demoState = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__webdetrDemo)) as DemoState);

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

test('the load line counts onnxruntime’s .wasm in the download, names each step after it, and the runtime is fetched once', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const wasm: string[] = [];
  page
    .context()
    .on(
      'request',
      (request) =>
        /ort-wasm[^/]*\.wasm$/.test(new URL(request.url()).pathname) && !request.url().includes('?import') && wasm.push(request.url()),
    );
  await recordLoadTexts(page);
  await page.goto(`/index.html?model=${TINY}&backend=wasm&cache=0&image=none`);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 120_000 });
  const texts = await loadTexts(page);
  // The runtime is file 1 of the load; the bar's total is graphs + runtime (MB: the runtime is ~28 MB).
  expect(
    texts.some((t) => /^Loading the model: [\d.]+ [kM]?B of [\d.]+ MB \(file 1: onnxruntime’s WebAssembly runtime\)$/.test(t)),
    texts.join('\n'),
  ).toBe(true);
  expect(
    texts.some((t) => /^Loading the model: [\d.]+ MB of [\d.]+ MB \(file 2 of \d+\)$/.test(t)),
    texts.join('\n'),
  ).toBe(true);
  // After the download: which step it is in, not a bare "preparing".
  expect(
    texts.some((t) =>
      /downloaded; (starting onnxruntime’s WebAssembly runtime|creating onnxruntime sessions \(\d+ graphs?: parsing and optimizing\))…$/.test(
        t,
      ),
    ),
    texts.join('\n'),
  ).toBe(true);
  const state = await demoState(page);
  expect(state.model?.runtimeBytes).toBe(RUNTIME_BYTES);
  const mb = ((state.model!.downloadBytes + RUNTIME_BYTES) / 1e6).toFixed(1);
  await expect(page.locator('#load-text')).toContainText(`${mb} MB download (graphs `);
  expect(wasm, wasm.join('\n')).toHaveLength(1);
  // The footer no longer calls the shipped models interim checkpoints.
  await expect(page.locator('.site-footer')).not.toContainText('interim');
  await expect(page.locator('.site-footer')).toContainText('model cards');
});

test('after Find similar and back to Detect, the model line names the detect model again', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto(`/index.html?model=${TINY}&oneshot=${TINY_ONESHOT}&backend=wasm&cache=0&image=astronaut`);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 120_000 });
  await expect(page.locator('#load-text')).toHaveText(/^The model loaded\./);
  await page.getByLabel('Find similar').check();
  await expect(page.locator('#load-text')).toHaveText(/^The one-shot model loaded\./, { timeout: 120_000 });
  await page.getByLabel('Detect objects').check();
  await expect(page.locator('#load-text')).toHaveText(/^The model loaded\. Model: UP-DETR pretrain, 2 classes/);
  await page.getByLabel('Find similar').check();
  await expect(page.locator('#load-text')).toHaveText(/^The one-shot model loaded\./);
});

test('phone 390x844: the backend notice is whole and the results start above the fold', async ({ page }) => {
  test.setTimeout(180_000);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/index.html?model=${TINY}&backend=wasm&cache=0&image=astronaut`);
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true && window.__webdetrDemo.runs > 0, undefined, { timeout: 120_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/phone-390x844.png` });
  const notice = await page
    .locator('#backend')
    .evaluate((e) => ({ text: e.textContent ?? '', scroll: e.scrollHeight, client: e.clientHeight }));
  expect(notice.text).toMatch(/^Running on WASM/);
  expect(notice.scroll, 'backend notice clipped').toBeLessThanOrEqual(notice.client + 1);
  const status = await page.locator('.model-status').evaluate((e) => ({ scroll: e.scrollHeight, client: e.clientHeight }));
  expect(status.scroll, 'model status clipped').toBeLessThanOrEqual(status.client + 1);
  const results = (await page.locator('#results-title').boundingBox())!;
  expect(results.y + results.height, 'results heading below the fold').toBeLessThanOrEqual(844);
  const firstResult = await page.locator('#results li').first().boundingBox();
  expect(firstResult, 'no result row').not.toBeNull();
  expect(firstResult!.y + firstResult!.height, 'first result below the fold').toBeLessThanOrEqual(844);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});
