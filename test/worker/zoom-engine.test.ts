/**
 * Zoomed search through the engine on odd pictures and patches (WASM in Node, the tiny one-shot package
 * of tools/fixtures/tiny_oneshot_package.py: box patches, zoom 2:0.6:0.2): extreme aspect ratios and
 * tiny pictures whose windows are a pixel or two, a patch clipped at the edge, what runs per call
 * (image encodings), and that boxes stay on the picture. Parity with PyTorch is
 * test/shipped/shipped-parity.test.ts; WebGPU is e2e/soak.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectorEngine } from '../../src/worker/engine';
import { serveDirectories, type StaticServer } from '../helpers/static-server';

let server: StaticServer;
let engine: DetectorEngine;
beforeAll(async () => {
  server = await serveDirectories({ tiny: 'test/fixtures/packages/tiny-oneshot' });
  engine = await DetectorEngine.create({ model: `${server.base}tiny/`, gpu: undefined, cache: false });
});
afterAll(async () => {
  await engine.dispose();
  await server.close();
});

function picture(width: number, height: number) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 37) % 256, (i * 91) % 256, (i * 13) % 256, 255], 4 * i);
  return { data, width, height };
}

const encodings = () => engine.counters.perGraph.encoder_input ?? 0;

describe('zoomed search in the engine (tiny one-shot package, WASM)', () => {
  it('the package default: the model says how it zooms', () => {
    expect(engine.model.zoom).toEqual({ grid: 2, side: 0.6, below: 0.2, nmsIou: 0.5 });
  });

  // views: 5 for a patch under 0.2 of the picture on its longer relative side (4 windows + the whole picture).
  it.each([
    ['a wide strip (windows of 240x6 pixels)', 400, 10, { x: 10, y: 2, width: 20, height: 1 }, 5],
    ['a tall strip (windows of 6x180 pixels)', 10, 300, { x: 4, y: 200, width: 1, height: 20 }, 5],
    ['a 2-pixel-high strip: every patch is half its height, so nothing zooms', 400, 2, { x: 10, y: 0, width: 20, height: 1 }, 1],
    ['a tiny picture (windows of 3x3 pixels)', 5, 5, { x: 2, y: 2, width: 0.6, height: 0.6 }, 5],
    ['a patch clipped at the edge to 7x10 of 200x100', 200, 100, { x: -5, y: 90, width: 12, height: 30 }, 5],
  ])('%s: views and boxes on the picture', async (_, width, height, patch, views) => {
    const image = engine.prepareImage(picture(width, height));
    try {
      const before = encodings();
      const result = await engine.detectWithPatches(image.id, [patch], { threshold: 0 });
      const [only] = result.patches;
      expect(only?.views).toBe(views);
      expect(encodings() - before).toBe(views);
      expect(only?.detections.length).toBeGreaterThan(0);
      for (const { box } of only?.detections ?? []) {
        expect(box.x).toBeGreaterThanOrEqual(-1e-9);
        expect(box.y).toBeGreaterThanOrEqual(-1e-9);
        expect(box.x + box.width).toBeLessThanOrEqual(width + 1e-9);
        expect(box.y + box.height).toBeLessThanOrEqual(height + 1e-9);
      }
    } finally {
      engine.releaseImage(image.id);
    }
  });

  it('a large patch reuses the picture encoded after a zoomed one; zoom: false never encodes windows', async () => {
    const image = engine.prepareImage(picture(160, 120));
    try {
      const small = { x: 100, y: 70, width: 20, height: 15 };
      const large = { x: 10, y: 10, width: 90, height: 80 };
      await engine.detectWithPatches(image.id, [small]);
      let before = encodings();
      const reuse = await engine.detectWithPatches(image.id, [large]);
      expect(reuse.reusedImageFeatures).toBe(true);
      expect(encodings()).toBe(before);
      before = encodings();
      const off = await engine.detectWithPatches(image.id, [small, large], { zoom: false, threshold: 0 });
      expect(off.reusedImageFeatures).toBe(true);
      expect(off.patches.map((p) => p.views)).toEqual([1, 1]);
      expect(encodings()).toBe(before);
      // Without the merge every query's box stays: 4 per patch (topK = queriesPerPatch).
      expect(off.patches.map((p) => p.detections.length)).toEqual([4, 4]);
      // A temporary (not prepared) picture: windows and the whole picture, nothing kept for later.
      before = encodings();
      const temporary = await engine.detectWithPatches(picture(160, 120), [small]);
      expect(temporary.reusedImageFeatures).toBe(false);
      expect(encodings() - before).toBe(5);
    } finally {
      engine.releaseImage(image.id);
    }
  });
});
