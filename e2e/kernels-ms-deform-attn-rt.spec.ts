import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { MsDeformAttnRtPageResult } from './pages/ms-deform-attn-rt-page.js';

/** Max abs error against the float64 PyTorch formula (issue 31), as in the Node test. */
const TOLERANCE = 2e-5;
const { cases } = JSON.parse(readFileSync(new URL('../test/fixtures/ms_deform_attn_rt/cases.json', import.meta.url), 'utf8')) as {
  cases: Array<{ name: string }>;
};

test('ms_deform_attn_rt WGSL and WASM kernels match the RT-DETR PyTorch fixtures in chromium', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/e2e/pages/ms-deform-attn-rt.html');
  await page.waitForFunction(() => typeof window.runMsDeformAttnRtCases === 'function');
  const result: MsDeformAttnRtPageResult = await page.evaluate(() => window.runMsDeformAttnRtCases());
  expect(result.hasNavigatorGpu).toBe(true);
  console.log(`adapter: ${JSON.stringify(result.adapter)}`);
  expect(result.cases.map((c) => c.name)).toEqual(cases.map((c) => c.name));
  for (const c of result.cases) {
    console.log(`${c.name}: webgpu ${c.gpuError.toExponential(2)} (${c.gpuSeconds.toFixed(2)} s), wasm ${c.wasmError.toExponential(2)}`);
    expect(c.gpuError, c.name).toBeLessThanOrEqual(TOLERANCE);
    expect(c.wasmError, c.name).toBeLessThanOrEqual(TOLERANCE);
  }
  expect(result.uncapturedErrors).toEqual([]);
});
