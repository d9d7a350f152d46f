import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { MsDeformAttnPageResult, MsDeformAttnWasmPageResult } from './pages/ms-deform-attn-page.js';

/** Max abs error against the float64 PyTorch formula (issue 3), as in the Node test. */
const TOLERANCE = 2e-5;
const { cases } = JSON.parse(readFileSync(new URL('../test/fixtures/ms_deform_attn/cases.json', import.meta.url), 'utf8')) as {
  cases: Array<{ name: string }>;
};
// Every case, the two full-size 17,821-query encoder cases included (~15 s each on SwiftShader).
const browserCases = cases.map((c) => c.name);

test('ms_deform_attn WGSL kernel matches the PyTorch fixtures in chromium WebGPU', async ({ page }) => {
  test.setTimeout(600_000); // SwiftShader is CPU emulation; the whole set takes ~40 s on 2 shared cores
  await page.goto('/e2e/pages/ms-deform-attn.html');
  await page.waitForFunction(() => typeof window.runMsDeformAttnCases === 'function');
  const result: MsDeformAttnPageResult = await page.evaluate((names) => window.runMsDeformAttnCases(names), browserCases);

  expect(result.hasNavigatorGpu, 'the page must run on navigator.gpu (WebGPU), not a fallback').toBe(true);
  // Results can only come from a WebGPU device (the page has no other path); say which adapter ran.
  console.log(`adapter: ${JSON.stringify(result.adapter)}`);
  expect(result.cases.map((c) => c.name)).toEqual(browserCases);
  for (const c of result.cases) {
    console.log(`${c.name}: max error ${c.maxError.toExponential(2)}, ${c.seconds.toFixed(2)} s`);
    expect(c.maxError, c.name).toBeLessThanOrEqual(TOLERANCE);
  }
  expect(result.uncapturedErrors).toEqual([]);
});

test('ms_deform_attn WebAssembly kernel (the CPU path) matches the PyTorch fixtures in chromium', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/e2e/pages/ms-deform-attn.html');
  await page.waitForFunction(() => typeof window.runMsDeformAttnWasmCases === 'function');
  const result: MsDeformAttnWasmPageResult = await page.evaluate((names) => window.runMsDeformAttnWasmCases(names), browserCases);
  expect(result.cases.map((c) => c.name)).toEqual(browserCases);
  for (const c of result.cases) {
    console.log(`wasm ${c.name}: max error ${c.maxError.toExponential(2)}, ${(c.seconds * 1000).toFixed(1)} ms`);
    expect(c.maxError, c.name).toBeLessThanOrEqual(TOLERANCE);
  }
});
