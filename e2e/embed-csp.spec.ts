/**
 * The script-tag build (dist/embed/webdetr.js) on a page served with a strict Content-Security-Policy
 * header on every response (the worker's too): no inline script or style, no eval, only
 * 'wasm-unsafe-eval' for onnxruntime-web's WebAssembly. Two <web-detr> elements with the same model
 * must both fire `detections`, share one worker and download each graph once; a threshold change
 * re-filters without a new run.
 */
import { execFileSync } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { smallFixture } from '../test/helpers/export-fixture.js';
import { serveWithStrictCsp, type StrictServer } from './embed/strict-csp-server.js';

let server: StrictServer;
let base = '';
let requests: string[] = [];

test.beforeAll(async () => {
  execFileSync('npx', ['vite', 'build', '-c', 'vite.embed.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  server = await serveWithStrictCsp(
    { embed: 'dist/embed', model: smallFixture('deformable_plain').dir, page: 'e2e/embed' },
    { files: { '/': 'e2e/embed/index.html', '/page/photo.png': '../shared/reference/image.png' }, csp: !process.env.WEBDETR_NO_CSP },
  );
  base = server.base;
  requests = server.requests;
});
test.afterAll(async () => server.close());

test('two <web-detr> elements under a strict CSP: results, one shared worker and model, threshold re-filter', async ({ page }) => {
  test.setTimeout(300_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  await page.goto(`${base}/`);
  await page.waitForFunction(
    () =>
      (window as unknown as { __embed: { events: unknown[]; errors: unknown[] } }).__embed.events.length >= 2 ||
      (window as unknown as { __embed: { errors: unknown[] } }).__embed.errors.length > 0,
    undefined,
    { timeout: 240_000 },
  );
  const state = await page.evaluate(
    () =>
      (
        window as unknown as {
          __embed: { events: { id: string; count: number; backend: string }[]; errors: unknown[]; violations: string[] };
        }
      ).__embed,
  );
  expect(state.errors).toEqual([]);
  expect(state.violations).toEqual([]);
  expect(new Set(state.events.map((e) => e.id))).toEqual(new Set(['first', 'second']));
  for (const event of state.events) expect(event.count).toBeGreaterThan(0);
  // One worker script and each graph file fetched once for both elements.
  expect(requests.filter((r) => /\/assets\/worker-[^/]+\.js$/.test(r))).toHaveLength(1);
  const graphs = requests.filter((r) => r.startsWith('/model/') && r.endsWith('.onnx'));
  expect(graphs.length).toBeGreaterThan(0);
  expect(new Set(graphs).size).toBe(graphs.length);

  await page.screenshot({ path: 'test-results/embed-csp-boxes.png', fullPage: true });
  // Threshold 1.0 hides everything; the change re-filters the last result (no new model run).
  const before = requests.length;
  const filtered = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const element = document.getElementById('first') as HTMLElement;
        element.addEventListener(
          'detections',
          (event) => resolve((event as CustomEvent<{ detections: unknown[] }>).detail.detections.length),
          { once: true },
        );
        element.setAttribute('threshold', '1');
      }),
  );
  expect(filtered).toBe(0);
  expect(requests.length).toBe(before);
  expect(consoleErrors.filter((m) => /Content Security Policy|Refused/.test(m))).toEqual([]);
  await page.screenshot({ path: 'test-results/embed-csp-threshold-1.png', fullPage: true });
});
