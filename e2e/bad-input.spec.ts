/**
 * Bad input through the public API in headless chromium (createDetector, WASM backend, the tiny test
 * package and its broken variants from test/helpers/bad-packages.ts). Table driven: each row is one
 * bad call with the exact error the page must see after the worker boundary (class, code, and reason
 * or HTTP status where the error has one), then a good call, on the same detector where that is
 * meaningful or on a new one, whose raw outputs must equal the first good run. The browser cases
 * live in e2e/pages/bad-input-page.ts under the same names; a second local server on another port
 * serves the model without CORS headers (and with them, as the control).
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { BAD_PACKAGE_CASES, TINY_PACKAGE, writeBadPackages } from '../test/helpers/bad-packages.js';

interface Expected {
  name: string;
  code?: string;
  reason?: string;
  status?: number;
  detail?: unknown;
}

const fetchError = (status?: number): Expected => ({ name: 'ModelFetchError', code: 'model-fetch', ...(status ? { status } : {}) });
const inputError: Expected = { name: 'InputError', code: 'invalid-input' };
const disposed: Expected = { name: 'DisposedError', code: 'disposed' };

const CASES: [string, Expected][] = [
  // Model packages (a new detector for the good model afterwards): the table shared with the engine suite.
  ...BAD_PACKAGE_CASES,
  ['model URL empty', inputError],
  ['model URL unparsable', inputError],
  ['backend unknown', inputError],
  ['model on another origin without CORS', fetchError()],
  // Images (the same detector afterwards).
  ['image 0x0 canvas', inputError],
  ['image 1x1', { name: 'resolved', detail: { width: 1, height: 1 } }],
  ['image 20000x20000 canvas', inputError],
  ['image 16385x1 canvas', inputError],
  ['image corrupt PNG bytes', inputError],
  ['image empty blob', inputError],
  ['image text blob', inputError],
  ['image null', inputError],
  ['image URL string', inputError],
  ['image <img> that failed to load', inputError],
  ['image closed ImageBitmap', inputError],
  // NaN / Inf and other bad options.
  ['threshold NaN', inputError],
  ['threshold Infinity', inputError],
  ['maxDetections NaN', inputError],
  ['maxDetections -1', inputError],
  ['classes unknown name', inputError],
  // Query patches.
  ['patch NaN coordinate', inputError],
  ['patch Infinity size', inputError],
  ['patch zero area', inputError],
  ['patch outside the image', inputError],
  ['patches 100 at once', { name: 'resolved', detail: { patches: 100, queries: [1, 1000, 3] } }],
  ['patches 101 (limit 100)', inputError],
  ['patches empty', inputError],
  ['patches not an array', inputError],
  // Lifecycle and concurrency.
  ['calls after dispose', disposed],
  ['dispose during a run', disposed],
  ['concurrent calls from two detectors', { name: 'resolved', detail: [true, true, true, true, true, true] }],
  ['replaceable calls superseded', { name: 'SupersededError', code: 'superseded' }],
];

/** A second origin: the tiny package under /nocors/ (no CORS headers) and /cors/ (Access-Control-Allow-Origin: *). */
function otherOrigin(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const [, mount = '', ...rest] = new URL(req.url ?? '/', 'http://x').pathname.split('/');
    const file = normalize(join(TINY_PACKAGE, ...rest));
    if (!['cors', 'nocors'].includes(mount) || !file.startsWith(TINY_PACKAGE) || !statSync(file, { throwIfNoEntry: false })?.isFile())
      return void res.writeHead(404).end();
    res.writeHead(200, { ...(mount === 'cors' ? { 'access-control-allow-origin': '*' } : {}), connection: 'close' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

let page: Page;
let other: { server: Server; base: string };
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  const badRoot = writeBadPackages();
  other = await otherOrigin();
  page = await browser.newPage();
  page.on('pageerror', (error) => console.log(`[page error] ${error.message}`));
  await page.route('**/e2e/pages/bad-input-shell.html', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/e2e/pages/bad-input-page.ts"></script>' }),
  );
  await page.goto('/e2e/pages/bad-input-shell.html');
  await page.waitForFunction(() => window.badInput !== undefined);
  const names = await page.evaluate((urls) => window.badInput!.setup(urls), {
    good: `/${TINY_PACKAGE}/`,
    badRoot: `/${badRoot}`,
    noCors: `${other.base}/nocors/`,
    withCors: `${other.base}/cors/`,
  });
  expect(names.sort()).toEqual(CASES.map(([name]) => name).sort());
});
test.afterAll(async () => {
  await page.evaluate(() => window.badInput!.teardown());
  await page.close();
  await new Promise<void>((resolve) => other.server.close(() => resolve()));
});

test.describe(`${CASES.length} bad calls, each followed by a good call`, () => {
  for (const [name, expected] of CASES) {
    test(name, async () => {
      const result = await page.evaluate((n) => window.badInput!.runCase(n), name);
      const { message, ...bad } = result.bad;
      expect(bad, message).toEqual(expected);
      expect(result.recovery).toMatchObject({ name: 'resolved', equalsBaseline: true });
    });
  }
});
