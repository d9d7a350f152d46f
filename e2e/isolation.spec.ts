/**
 * A plain static host (no COOP/COEP headers) under the embed's strict CSP: enableCrossOriginIsolation()
 * registers isolation-sw.js from the embed build, reloads once, and the page is then cross-origin isolated,
 * so onnxruntime-web's WASM runs with threads and the backend description says how many. Without it the page
 * stays on one thread and the description says why.
 */
import { execFileSync } from 'node:child_process';
import { expect, test, type Page } from '@playwright/test';
import { smallFixture } from '../test/helpers/export-fixture.js';
import { serveWithStrictCsp, type StrictServer } from './embed/strict-csp-server.js';

let server: StrictServer;

test.beforeAll(async () => {
  execFileSync('npx', ['vite', 'build', '-c', 'vite.embed.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  server = await serveWithStrictCsp(
    { site: 'dist/embed', model: smallFixture('deformable_plain').dir },
    { files: { '/site/isolation.html': 'e2e/embed/isolation.html', '/site/isolation-test.js': 'e2e/embed/isolation-test.js' } },
  );
});
test.afterAll(async () => server.close());

interface IsolationResult {
  loads: number;
  state: string;
  isolated?: boolean;
  description?: string;
  count?: number;
  error?: string;
  done: boolean;
}

async function resultOf(page: Page): Promise<IsolationResult> {
  await page.waitForFunction(() => (window as unknown as { __isolation?: { done?: boolean } }).__isolation?.done === true, undefined, {
    timeout: 180_000,
  });
  return page.evaluate(() => (window as unknown as { __isolation: IsolationResult }).__isolation);
}

test('isolation-sw.js makes a static page cross-origin isolated: one reload, then WASM with threads', async ({ page }) => {
  test.setTimeout(300_000);
  const response = await page.goto(`${server.base}/site/isolation.html`);
  expect(response?.headers()['cross-origin-opener-policy']).toBeUndefined(); // the host sends none
  const first = await resultOf(page);
  expect(first.error).toBeUndefined();
  expect(first).toMatchObject({ loads: 2, state: 'isolated', isolated: true });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.max(1, Math.min(4, cores));
  expect(first.description).toBe(`WASM (onnxruntime-web, ${threads} thread${threads === 1 ? '' : 's'})`);
  expect(first.count).toBeGreaterThan(0);
  // Next visit: the worker already controls the page, so no reload.
  await page.goto(`${server.base}/site/isolation.html`);
  expect(await resultOf(page)).toMatchObject({ loads: 3, state: 'isolated', isolated: true });
});

test('without it a static page runs one thread and says why', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(`${server.base}/site/isolation.html?skip`);
  const result = await resultOf(page);
  expect(result.error).toBeUndefined();
  expect(result).toMatchObject({ loads: 1, state: 'skipped', isolated: false });
  expect(result.description).toBe('WASM (onnxruntime-web, 1 thread: not cross-origin isolated)');
});
