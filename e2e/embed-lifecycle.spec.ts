/**
 * <web-detr> lifecycle (src/embed/web-detr-element.ts) on the tiny test package, WASM backend:
 * removing the element disposes its detector and closes its decoded ImageBitmap and forgets its
 * source, so putting it back fetches the picture and loads the model again, with the same detections.
 */
import { expect, test } from '@playwright/test';

test('a removed <web-detr> releases its detector and bitmap; reconnecting reloads both', async ({ page }) => {
  test.setTimeout(120_000);
  await page.route('**/e2e/pages/embed-lifecycle-shell.html', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><body><script type="module" src="/e2e/pages/embed-lifecycle-page.ts"></script></body>' }),
  );
  await page.goto('/e2e/pages/embed-lifecycle-shell.html');
  await page.waitForFunction(() => window.embedLifecycle !== undefined);
  const result = await page.evaluate(() => window.embedLifecycle!.run('/test/fixtures/packages/tiny/'));
  console.log(JSON.stringify({ ...result, first: result.first.length, again: result.again.length }));
  expect(result.errors).toEqual([]);
  expect(result.first.length).toBeGreaterThan(0);
  expect(result.bitmapAfterRemoval).toEqual({ width: 0, height: 0 });
  expect(result.heldAfterRemoval).toEqual({ image: false, imageSrc: '', detector: false });
  expect(result.imageFetches).toBe(2);
  expect(result.again).toEqual(result.first);
});
