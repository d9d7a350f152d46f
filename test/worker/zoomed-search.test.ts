/**
 * Zoomed search's pure part (src/worker/zoomed-search.ts): which patches zoom and into which window,
 * their boxes relative to it, and views' detections mapped back and merged. Hand-computed cases; the
 * whole search against the PyTorch reference is in test/shipped/shipped-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Detection } from '../../src/api/types.js';
import { WHOLE_IMAGE } from '../../src/geometry/zoom-windows.js';
import { mergedDetections, planZoom, viewCandidates } from '../../src/worker/zoomed-search.js';

const SPEC = { grid: 2, side: 0.6, below: 0.2, nmsIou: 0.5 };
const SIZE = { width: 600, height: 400 };
const detection = (x: number, y: number, width: number, height: number, score: number): Detection => ({
  box: { x, y, width, height },
  score,
  label: 'match',
  classId: 0,
});

describe('planZoom', () => {
  it('zooms only patches whose longer relative side is under `below`, grouped by the window holding them', () => {
    const plan = planZoom(
      [
        [60, 40, 120, 80], // 0.1 x 0.1, top left: window 0
        [0, 0, 300, 200], // large: whole image only
        [480, 320, 540, 360], // bottom right: window 3
        [30, 20, 90, 60], // top left again: window 0
        [0, 0, 120, 70], // 0.2 wide: exactly `below`, not under it
      ],
      SIZE,
      SPEC,
    );
    expect(plan?.windows).toHaveLength(4);
    expect(plan?.groups).toEqual([
      { window: 0, patches: [0, 3] },
      { window: 3, patches: [2] },
    ]);
    expect(plan?.zoomed).toEqual([0, 3, 2]);
    // Boxes relative to their own window: window 0 is [0, 0, 0.6, 0.6], window 3 [0.4, 0.4, 1, 1].
    const boxes = Array.from(plan?.windowBoxes.data ?? []);
    const want = [
      0.1 / 0.6,
      0.1 / 0.6,
      0.2 / 0.6,
      0.2 / 0.6,
      0.05 / 0.6,
      0.05 / 0.6,
      0.15 / 0.6,
      0.15 / 0.6,
      0.4 / 0.6,
      0.4 / 0.6,
      0.5 / 0.6,
      0.5 / 0.6,
    ];
    boxes.forEach((v, i) => expect(v).toBeCloseTo(want[i] ?? NaN, 6));
    expect(plan?.windowBoxes.dims).toEqual([1, 3, 4]);
  });

  it('undefined when no patch is small, or when no window wholly holds a small one', () => {
    expect(planZoom([[0, 0, 300, 200]], SIZE, SPEC)).toBeUndefined();
    // 3x3 windows of 0.34 start at 0, 0.33 and 0.66: [0.3, 0, 0.4, 0.1] sticks out of window 0 on the right
    // (0.4 > 0.34) and out of window 1 on the left (0.3 < 0.33).
    expect(planZoom([[180, 0, 240, 40]], SIZE, { ...SPEC, grid: 3, side: 0.34 })).toBeUndefined();
  });

  it('decides in float64 from the pixel rectangle, as the Python reference does (tools/tests/test_oneshot_zoom.py)', () => {
    // 25/120 - 1/120 is 0.2 in float64: not under `below`; float32 would say 0.19999999.
    expect(planZoom([[1, 0, 25, 10]], { width: 120, height: 90 }, SPEC)).toBeUndefined();
    expect(planZoom([[1, 0, 24, 10]], { width: 120, height: 90 }, SPEC)?.zoomed).toEqual([0]);
  });

  it('a bad zoom spec is a RangeError naming it', () => {
    expect(() => planZoom([[0, 0, 10, 10]], SIZE, { ...SPEC, grid: 2, side: 0.4 })).toThrow(RangeError);
  });
});

describe('viewCandidates / mergedDetections', () => {
  it('clamps each box to its view, maps it to the image, merges by NMS and returns source pixels', () => {
    // A window view [0.4, 0.4, 1, 1]: a box hanging over its left edge is clamped to it first.
    const windowed = viewCandidates([detection(-0.5, 0.5, 1, 0.25, 0.9)], [0.4, 0.4, 1, 1]);
    expect(windowed[0]?.box.map((v) => Number(v.toFixed(6)))).toEqual([0.4, 0.7, 0.7, 0.85]);
    // The whole image's box over nearly the same area (IoU > 0.5) is dropped; a distant one stays.
    const whole = viewCandidates([detection(0.41, 0.7, 0.29, 0.15, 0.6), detection(0, 0, 0.1, 0.1, 0.3)], WHOLE_IMAGE);
    const merged = mergedDetections([...whole, ...windowed], 0.5, 10, SIZE);
    expect(merged.map((d) => d.score)).toEqual([0.9, 0.3]);
    const [best] = merged;
    expect(best?.box.x).toBeCloseTo(240, 6);
    expect(best?.box.y).toBeCloseTo(280, 6);
    expect(best?.box.width).toBeCloseTo(180, 6);
    expect(best?.box.height).toBeCloseTo(60, 6);
    expect(best?.label).toBe('match');
    expect(mergedDetections([...whole, ...windowed], 0.5, 1, SIZE)).toHaveLength(1);
  });
});
