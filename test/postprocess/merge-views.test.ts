/** Merging views' boxes by NMS (src/postprocess/merge-views.ts): torchvision.ops.nms's rule, hand-computed cases. */
import { describe, expect, it } from 'vitest';
import { boxIou, mergeViews, type ScoredBox } from '../../src/postprocess/merge-views.js';

const box = (x0: number, y0: number, x1: number, y1: number, score: number, view = 'whole'): ScoredBox & { view: string } => ({
  box: [x0, y0, x1, y1],
  score,
  view,
});

describe('mergeViews', () => {
  it('computes IoU, zero for disjoint or empty boxes', () => {
    expect(boxIou([0, 0, 2, 2], [1, 1, 3, 3])).toBeCloseTo(1 / 7, 12);
    expect(boxIou([0, 0, 1, 1], [2, 2, 3, 3])).toBe(0);
    expect(boxIou([0, 0, 0, 0], [0, 0, 0, 0])).toBe(0);
  });
  it('drops the weaker of boxes overlapping above the threshold, across views, and keeps the best', () => {
    const merged = mergeViews(
      [
        box(0, 0, 0.5, 0.5, 0.4),
        box(0.6, 0.6, 0.7, 0.7, 0.2),
        box(0.01, 0, 0.5, 0.5, 0.9, 'window'),
        box(0.8, 0.8, 0.9, 0.9, 0.1, 'window'),
      ],
      0.5,
      2,
    );
    expect(merged.map((m) => [m.score, m.view])).toEqual([
      [0.9, 'window'],
      [0.2, 'whole'],
    ]);
  });
  it('keeps boxes whose IoU equals the threshold (only IoU above it suppresses)', () => {
    // IoU of [0,0,2,1] and [1,0,3,1] is 1/3.
    expect(mergeViews([box(0, 0, 2, 1, 0.9), box(1, 0, 3, 1, 0.8)], 1 / 3 + 1e-12, 5)).toHaveLength(2);
    expect(mergeViews([box(0, 0, 2, 1, 0.9), box(1, 0, 3, 1, 0.8)], 0.3, 5)).toHaveLength(1);
  });
  it('a suppressed box does not suppress others; ties keep the input order', () => {
    // b overlaps a (IoU 0.6) and c (IoU 0.6); a and c do not overlap: a and c stay.
    const a = box(0, 0, 4, 1, 0.9);
    const b = box(1, 0, 5, 1, 0.8);
    const c = box(2.6, 0, 6.6, 1, 0.7);
    expect(mergeViews([a, b, c], 0.5, 10)).toEqual([a, c]);
    const first = box(0, 0, 1, 1, 0.5, 'first');
    const second = box(5, 5, 6, 6, 0.5, 'second');
    expect(mergeViews([first, second], 0.5, 10)).toEqual([first, second]);
    expect(mergeViews([second, first], 0.5, 1)).toEqual([second]);
  });
  it('refuses an IoU threshold outside [0, 1]', () => {
    expect(() => mergeViews([], 1.5, 1)).toThrow(RangeError);
    expect(() => mergeViews([], Number.NaN, 1)).toThrow(RangeError);
  });
});
