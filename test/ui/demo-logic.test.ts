/** The demo's pure logic: client-side re-filtering, query parameters (letterbox geometry: test/geometry/; patch rectangles: test/overlay/). */
import { describe, expect, it } from 'vitest';
import type { Detection } from '../../src/api/types.js';
import { classCounts, visibleDetections, visiblePatchMatches } from '../../src/ui/filter.js';
import { oneShotNote } from '../../src/ui/one-shot-note.js';
import { readParams } from '../../src/ui/params.js';

const det = (label: string, classId: number, score: number): Detection => ({
  label,
  classId,
  score,
  box: { x: 0, y: 0, width: 10, height: 10 },
});
const all = [det('cat', 17, 0.9), det('dog', 18, 0.6), det('cat', 17, 0.3), det('cup', 47, 0.55)];

describe('re-filtering the last raw result', () => {
  it('keeps scores at or above the threshold and drops hidden classes', () => {
    expect(visibleDetections(all, { threshold: 0.55, hiddenClasses: new Set() }).map((d) => d.score)).toEqual([0.9, 0.6, 0.55]);
    expect(visibleDetections(all, { threshold: 0, hiddenClasses: new Set(['cat']) }).map((d) => d.label)).toEqual(['dog', 'cup']);
  });
  it('counts classes at the threshold, most frequent first, listing classes below it with 0', () => {
    expect(classCounts(all, 0.5)).toEqual([
      { label: 'cat', classId: 17, count: 1, best: 0.9 },
      { label: 'dog', classId: 18, count: 1, best: 0.6 },
      { label: 'cup', classId: 47, count: 1, best: 0.55 },
    ]);
    expect(classCounts(all, 0.95).map((c) => c.count)).toEqual([0, 0, 0]);
  });
  it('filters one-shot matches per patch, keeping every patch', () => {
    const patch = { x: 1, y: 2, width: 3, height: 4 };
    const out = visiblePatchMatches(
      [
        { patch, detections: all, views: 1 },
        { patch, detections: [], views: 5 },
      ],
      0.58,
    );
    expect(out.map((p) => p.detections.length)).toEqual([2, 0]);
  });
});

describe('query parameters', () => {
  it('defaults to the bundled model, auto backend and the cache on', () => {
    expect(readParams('')).toMatchObject({
      model: 'models/detector/manifest.json',
      backend: 'auto',
      cache: true,
      mode: undefined,
      image: 'astronaut',
    });
    expect(readParams('?model=/m/x.json&backend=wasm&cache=0&mode=oneshot&oneshot=/o.json')).toMatchObject({
      model: '/m/x.json',
      oneShotModel: '/o.json',
      backend: 'wasm',
      cache: false,
      mode: 'oneshot',
    });
    expect(readParams('?backend=cuda').backend).toBe('auto');
  });
});

describe('oneShotNote', () => {
  const patch = { x: 1, y: 2, width: 3, height: 4 };
  it('says when small patches were searched zoomed, else whether the encoder ran or was reused', () => {
    expect(
      oneShotNote(
        {
          patches: [
            { patch, detections: [], views: 1 },
            { patch, detections: [], views: 5 },
          ],
          reusedImageFeatures: false,
        },
        true,
      ),
    ).toBe(
      'Zoomed search: a small patch was also searched in 4 enlarged windows of the picture (the image encoder ran for each window and again for the whole picture).',
    );
    expect(
      oneShotNote(
        {
          patches: [
            { patch, detections: [], views: 5 },
            { patch, detections: [], views: 5 },
          ],
          reusedImageFeatures: false,
        },
        true,
      ),
    ).toMatch(/^Zoomed search: 2 small patches were also searched in 4 /);
    expect(oneShotNote({ patches: [{ patch, detections: [], views: 1 }], reusedImageFeatures: true }, true)).toMatch(
      /^Image features reused/,
    );
    expect(oneShotNote({ patches: [{ patch, detections: [], views: 1 }], reusedImageFeatures: false }, true)).toMatch(
      /^First query on this picture/,
    );
    expect(oneShotNote({ patches: [{ patch, detections: [], views: 1 }], reusedImageFeatures: false }, false)).toMatch(
      /cannot reuse a prepared picture/,
    );
  });
});
