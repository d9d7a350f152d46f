/**
 * WASM fallback in a chromium without WebGPU (launched without the WebGPU flags and with the feature
 * disabled): `auto` runs on WASM and says plainly that WebGPU is unavailable; `webgpu` is a typed error.
 */
import { relative, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { maxAbsDiff, readNpyFloat32 } from '../test/export/npy.js';
import { smallFixture } from '../test/helpers/export-fixture.js';

test.use({
  launchOptions: {
    executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-features=WebGPU', '--disable-gpu'],
  },
});

test('no WebGPU: auto runs WASM, says why, matches PyTorch; forcing webgpu fails with WebGpuUnavailableError', async ({ page }) => {
  const fixture = smallFixture('deformable_plain');
  const dir = `/${relative(process.cwd(), resolve(fixture.dir))}`;
  await page.goto('/e2e/pages/detector-api.html');
  await page.waitForFunction(() => window.detectorApi !== undefined);
  // Chromium keeps navigator.gpu with the feature off, but no adapter comes back.
  expect(await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) ?? null)).toBeNull();
  const result = await page.evaluate((s) => window.detectorApi!.runSession(s), {
    model: `${dir}/`,
    backend: 'auto' as const,
    image: `${dir}/image.f32`,
    mean: [0.485, 0.456, 0.406] as [number, number, number],
    std: [0.229, 0.224, 0.225] as [number, number, number],
  });
  expect(result.backend.name).toBe('wasm');
  expect(result.backend.reason).toMatch(
    /^WebGPU unavailable \((navigator\.gpu is undefined|requestAdapter\(\) returned null)\); running on WASM$/,
  );
  expect(maxAbsDiff(result.detect?.logits ?? [], readNpyFloat32(fixture.expected_logits).data)).toBeLessThanOrEqual(1e-3);
  expect(maxAbsDiff(result.detect?.boxes ?? [], readNpyFloat32(fixture.expected_boxes).data)).toBeLessThanOrEqual(1e-4);
  const webgpu = await page.evaluate((model) => window.detectorApi!.loadFailure(model, 'webgpu'), `${dir}/`);
  expect(webgpu).toMatchObject({ name: 'WebGpuUnavailableError', code: 'webgpu-unavailable', isWebDetrError: true });
});
