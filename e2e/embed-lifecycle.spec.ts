/**
 * <web-detr> lifecycle (src/embed/web-detr-element.ts) on the tiny test package, WASM backend:
 * removing the element disposes its detector and closes its decoded ImageBitmap and forgets its
 * source, so putting it back fetches the picture and loads the model again, with the same detections.
 * Its status line says why it runs on WASM. Outlines crossing the picture's edge are clipped into it.
 */
import { expect, test, type Page } from '@playwright/test';

async function openPage(page: Page): Promise<void> {
  await page.route('**/e2e/pages/embed-lifecycle-shell.html', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><body><script type="module" src="/e2e/pages/embed-lifecycle-page.ts"></script></body>',
    }),
  );
  await page.goto('/e2e/pages/embed-lifecycle-shell.html');
  await page.waitForFunction(() => window.embedLifecycle !== undefined);
}

test('a removed <web-detr> releases its detector and bitmap; reconnecting reloads both', async ({ page }) => {
  test.setTimeout(120_000);
  await openPage(page);
  const result = await page.evaluate(() => window.embedLifecycle!.run('/test/fixtures/packages/tiny/'));
  console.log(JSON.stringify({ ...result, first: result.first.length, again: result.again.length }));
  expect(result.errors).toEqual([]);
  expect(result.first.length).toBeGreaterThan(0);
  expect(result.bitmapAfterRemoval).toEqual({ width: 0, height: 0 });
  expect(result.heldAfterRemoval).toEqual({ image: false, imageSrc: '', detector: false });
  expect(result.imageFetches).toBe(2);
  expect(result.again).toEqual(result.first);
  // No silent fallback: the status line names WASM and says why (here: the backend attribute).
  expect(result.backendReason).toContain('WASM was asked for');
  expect(result.status).toContain('wasm');
  // ...in the element's own terms: the backend attribute, not the JS option.
  expect(result.status).toContain(result.backendReason.replace('(backend: "wasm")', '(backend="wasm")'));
});

test('<web-detr> outlines crossing the picture edge are clipped into it (all four sides visible)', async ({ page }) => {
  await openPage(page);
  const { colour, pixels } = await page.evaluate(() => window.embedLifecycle!.clippedOutline());
  const rgb = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= 8);
  console.log(JSON.stringify({ colour, pixels }));
  // The sides that crossed the left and bottom edges are drawn at the edge, the right side where it is.
  for (const name of ['left0', 'left1', 'bottom', 'bottomInner', 'right'])
    expect(near(pixels[name]!, rgb), `${name}: ${pixels[name]}`).toBe(true);
  expect(pixels.inside).toEqual([255, 255, 255]);
});
