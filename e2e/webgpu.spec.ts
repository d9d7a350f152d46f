import { expect, test } from '@playwright/test';

test('chromium exposes a WebGPU adapter (SwiftShader) to pages on 127.0.0.1', async ({ page }) => {
  await page.goto('/e2e/pages/index.html');
  const adapter = await page.evaluate(async () => {
    const gpu = navigator.gpu;
    if (!gpu) return null;
    const a = await gpu.requestAdapter();
    if (!a) return null;
    return { vendor: a.info.vendor, architecture: a.info.architecture, features: [...a.features] };
  });
  expect(adapter, 'navigator.gpu.requestAdapter() must succeed in the test browser').not.toBeNull();
  expect(adapter?.features).toContain('timestamp-query');
});
