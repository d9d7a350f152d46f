/**
 * Shorter-side packages through the public API in chromium, on WASM and on WebGPU (SwiftShader): each picture
 * is preprocessed at its own aspect ratio on the backend (the WGSL bilinear kernel on WebGPU), the graphs run with
 * dynamic shapes and the deformable-attention kernels with level shapes computed per run, and the boxes come back
 * in the original picture's pixels. Against the official code (our reference model) on the same synthetic
 * checkpoint with the official preprocessing (tools/aspect_parity_fixture.py; shorter side 64, longer <= 107).
 *
 * Package: two-stage + box refine, R50, 2+2 layers, 40 queries (few graphs: SwiftShader compiles ORT's shaders per
 * graph). WebGPU runs two pictures (the 1:3 strip and the upscaled 40x30) by default, ~1 min each on SwiftShader;
 * WEBDETR_ASPECT_ALL=1 runs all five (portrait 3:4, landscape 16:9, square too).
 */
import { relative, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { AspectPictureRef, AspectResult } from './pages/aspect-ratio-page.js';
import { readNpyFloat32 } from '../test/export/npy.js';
import { ASPECT_TOLERANCE as TOLERANCE, type AspectFixture, aspectFixture, setDiff } from '../test/helpers/aspect-fixture.js';

const url = (path: string) => `/${relative(process.cwd(), resolve(path))}`;
const ALL = process.env.WEBDETR_ASPECT_ALL === '1';

let page: Page;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('console', (message) => {
    if (!/^(\[W:onnxruntime|\[vite\]|WebSocket|\d{4}-\d\d-\d\d .*\[W:onnxruntime)/.test(message.text()))
      console.log(`[page] ${message.text()}`);
  });
  // A shell without vite's HMR client: edits by others during a minutes-long run must not reload the page.
  await page.route('**/e2e/pages/aspect-ratio-shell.html', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><script type="module" src="/e2e/pages/aspect-ratio-page.ts"></script>',
    }),
  );
  await page.goto('/e2e/pages/aspect-ratio-shell.html');
  await page.waitForFunction(() => window.aspectRatio !== undefined);
});
test.afterAll(async () => page.close());

function check(fixture: AspectFixture, result: AspectResult, label: string): void {
  expect(result.sizePolicy).toEqual({ kind: 'shorter-side', shortest: 64, longest: 107, longerSide: 'official' });
  for (const run of result.runs) {
    const picture = fixture.pictures.find((p) => p.name === run.name);
    if (picture === undefined) throw new Error(`no picture ${run.name}`);
    const logits = readNpyFloat32(resolve(fixture.dir, picture.expected_logits));
    const boxes = readNpyFloat32(resolve(fixture.dir, picture.expected_boxes));
    expect(run.logits).toHaveLength(logits.data.length);
    const classes = logits.shape[2] ?? 0;
    const diff = setDiff({ logits: run.logits, boxes: run.boxes }, { logits: logits.data, boxes: boxes.data }, classes);
    console.log(
      `${label} ${run.name} ${picture.width}x${picture.height} -> ${picture.resized[1]}x${picture.resized[0]}: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}${diff.swapped > 0 ? ` (as a set, ${diff.swapped} swapped)` : ''}; ${(run.ms / 1000).toFixed(1)} s`,
    );
    expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
    expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
    // Detections in the original picture's pixels, as the official / Hugging Face post-processing gives them.
    expect(run.imageSize).toEqual({ width: picture.width, height: picture.height });
    const scale = Math.max(picture.width, picture.height);
    picture.top_boxes.forEach((expected, i) => {
      const [x0, y0, x1, y1] = expected as [number, number, number, number];
      const near = run.detections
        .filter((d) => d.classId === picture.top_labels[i])
        .map((d) =>
          Math.max(
            Math.abs(d.box.x - x0),
            Math.abs(d.box.y - y0),
            Math.abs(d.box.x + d.box.width - x1),
            Math.abs(d.box.y + d.box.height - y1),
          ),
        );
      expect(Math.min(...near), `${run.name} top ${i}`).toBeLessThanOrEqual(TOLERANCE.boxes * scale);
    });
  }
}

function pictures(fixture: AspectFixture, names?: readonly string[]): AspectPictureRef[] {
  return fixture.pictures
    .filter((p) => names === undefined || names.includes(p.name))
    .map((p) => ({ name: p.name, url: url(resolve(fixture.dir, p.rgba)), width: p.width, height: p.height }));
}

test('WASM: five aspect ratios through the API equal the official code, boxes in the original picture', async () => {
  test.setTimeout(300_000);
  const fixture = aspectFixture('two-stage-small');
  const result = await page.evaluate(([model, refs]) => window.aspectRatio!.run(model, 'wasm', refs), [
    `${url(fixture.dir)}/`,
    pictures(fixture),
  ] as const);
  expect(result.backend).toBe('wasm');
  check(fixture, result, 'api wasm');
});

test('WebGPU (SwiftShader): pictures at their own size, GPU preprocessing and kernels equal the official code', async () => {
  test.setTimeout(ALL ? 900_000 : 500_000);
  const fixture = aspectFixture('two-stage-small');
  const refs = pictures(fixture, ALL ? undefined : ['strip', 'tiny']);
  const result = await page.evaluate(([model, r]) => window.aspectRatio!.run(model, 'webgpu', r), [`${url(fixture.dir)}/`, refs] as const);
  expect(result.backend).toBe('webgpu');
  check(fixture, result, 'api webgpu');
});
