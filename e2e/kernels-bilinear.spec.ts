import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { BilinearPageResult } from './pages/bilinear-page.js';

/** Max |kernel - torch| in [0, 1] pixel units (issue 3), as in the Node test. */
const PIXEL_TOLERANCE = 1e-4;
const { cases } = JSON.parse(readFileSync(new URL('../test/fixtures/bilinear/cases.json', import.meta.url), 'utf8')) as {
  cases: Array<{ name: string }>;
};

function expectWebGpu(result: BilinearPageResult): void {
  expect(result.hasNavigatorGpu, 'the page must run on navigator.gpu (WebGPU), not a fallback').toBe(true);
  expect(result.adapter.isFallbackAdapter, 'headless chromium here is SwiftShader').toBe(true);
  expect(result.uncapturedErrors).toEqual([]);
}

test.beforeEach(async ({ page }) => {
  await page.goto('/e2e/pages/bilinear.html');
  await page.waitForFunction(() => typeof window.runBilinearFixtures === 'function');
});

test('bilinear WGSL kernels match the PyTorch / PIL fixtures in chromium WebGPU', async ({ page }) => {
  const result: BilinearPageResult = await page.evaluate(() => window.runBilinearFixtures());
  expectWebGpu(result);
  expect(result.cases.map((c) => c.name)).toEqual(cases.map((c) => c.name));
  const worst = Math.max(...result.cases.map((c) => c.maxError));
  console.log(`${result.cases.length} fixtures, worst max error ${worst.toExponential(2)} (pixel units)`);
  for (const c of result.cases) expect(c.maxError, c.name).toBeLessThanOrEqual(PIXEL_TOLERANCE);
});

test('every browser upload path (writeTexture and copyExternalImageToTexture) feeds the kernels exactly', async ({ page }) => {
  const result: BilinearPageResult = await page.evaluate(() => window.runBilinearUploadPaths());
  expectWebGpu(result);
  // 8 sources x 3 modes x (resize, crop); all share one size, so the uploader made one texture.
  expect(result.cases).toHaveLength(48);
  expect(result.texturesCreated).toBe(1);
  expect(result.emptyCanvasError, 'a 0x0 canvas is refused with InputError').toBe('invalid-input');
  for (const c of result.cases) {
    console.log(`${c.name}: ${c.maxError.toExponential(2)}`);
    expect(c.maxError, c.name).toBeLessThanOrEqual(PIXEL_TOLERANCE);
  }
});
