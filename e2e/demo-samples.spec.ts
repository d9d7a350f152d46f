/**
 * What a first visitor sees (issue 34): the demo with its shipped detector (public/models/detector) finds the
 * obvious object in each bundled sample photo, through the real page (sample buttons, the threshold the page
 * suggests from the package's manifest, the drawn boxes). WASM backend: on SwiftShader WebGPU a 320x320 frame
 * takes minutes. Unlike e2e/demo.spec.ts (parity and behaviour only), this asserts the model's answers, so a
 * retrained detector that loses them fails here.
 */
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import type { DemoState } from '../src/ui/dom.js';

const manifest = JSON.parse(readFileSync('public/models/detector/manifest.json', 'utf8')) as {
  output: { scoreThreshold: number };
};
const THRESHOLD = manifest.output.scoreThreshold;

const demoState = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify(window.__webdetrDemo)) as DemoState);

/** Opens a sample by its button (unless the page opened it by itself) and waits for that picture's detections. */
async function detectSample(page: Page, name: string): Promise<DemoState> {
  const now = await demoState(page);
  // A sample opened by the button needs a run after the click; the one the page opened by itself needs its first.
  const after = now.image?.name === name ? 0 : now.runs;
  if (now.image?.name !== name) await page.getByRole('button', { name: `Open sample photo: ${name}` }).click();
  await page.waitForFunction(
    ({ name, after }) => {
      const s = window.__webdetrDemo;
      return s !== undefined && s.image?.name === name && s.busy === false && s.lastDetect !== null && s.runs > after;
    },
    { name, after },
    { timeout: 120_000 },
  );
  const state = await demoState(page);
  expect(state.errors).toEqual([]);
  const shown = (state.lastDetect?.detections ?? []).filter((d) => d.score >= THRESHOLD);
  console.log(
    `${name}: ${shown.map((d) => `${d.label} ${d.score.toFixed(3)}`).join(', ') || 'nothing'} at the suggested threshold ${THRESHOLD}`,
  );
  return state;
}

/** The best detection of the last run, and the boxes the page drew (labels "cat 83%"). */
function top(state: DemoState) {
  const detections = [...(state.lastDetect?.detections ?? [])].sort((a, b) => b.score - a.score);
  return { best: detections[0], detections, drawn: state.drawn.map((d) => d.label) };
}

test('bundled samples through the demo (WASM): astronaut -> person, cat -> cat, coffee -> a cup, at the suggested threshold', async ({
  page,
}) => {
  test.setTimeout(300_000);
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto('/index.html?backend=wasm');
  await page.waitForFunction(() => window.__webdetrDemo?.ready === true, undefined, { timeout: 120_000 });
  const loaded = await demoState(page);
  expect(loaded.backend?.name).toBe('wasm');
  expect(loaded.model?.classNames).toHaveLength(80);

  // The page opens the Astronaut sample by itself.
  const first = await detectSample(page, 'Astronaut');
  // The slider is at the package's suggested threshold: what a visitor sees without touching it.
  expect(first.threshold).toBeCloseTo(THRESHOLD, 6);
  const astronaut = top(first);
  expect(astronaut.best?.label).toBe('person');
  expect(astronaut.best?.score).toBeGreaterThanOrEqual(THRESHOLD);
  expect(astronaut.drawn[0]).toMatch(/^person \d+%$/);
  // One astronaut, one box: the package's duplicate suppression (output.duplicateIou) drops the second
  // teacher peak's person box (0.45 at IoU ~0.8 before it).
  expect(astronaut.drawn.filter((label) => label.startsWith('person '))).toHaveLength(1);

  const cat = top(await detectSample(page, 'Cat'));
  expect(cat.best?.label).toBe('cat');
  expect(cat.best?.score).toBeGreaterThanOrEqual(THRESHOLD);
  expect(cat.drawn[0]).toMatch(/^cat \d+%$/);

  const coffee = top(await detectSample(page, 'Coffee'));
  const cup = coffee.detections.find((d) => d.label === 'cup');
  expect(
    cup?.score,
    `coffee: ${coffee.detections
      .slice(0, 5)
      .map((d) => `${d.label} ${d.score.toFixed(3)}`)
      .join(', ')}`,
  ).toBeGreaterThanOrEqual(THRESHOLD);
  expect(coffee.drawn.some((label) => /^cup \d+%$/.test(label))).toBe(true);
});
