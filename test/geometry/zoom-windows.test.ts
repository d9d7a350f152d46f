/** Zoomed search geometry (src/geometry/zoom-windows.ts), the same cases as tools/tests/test_oneshot_zoom.py. */
import { describe, expect, it } from 'vitest';
import { fromWindow, queryWindow, toWindow, WHOLE_IMAGE, zoomWindows } from '../../src/geometry/zoom-windows.js';

function close(actual: readonly number[], expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i] ?? NaN, 12));
}

describe('zoom windows', () => {
  it('span the image edge to edge evenly, rows first', () => {
    expect(zoomWindows(1, 1)).toEqual([WHOLE_IMAGE]);
    const windows = zoomWindows(2, 0.6);
    [
      [0, 0, 0.6, 0.6],
      [0.4, 0, 1, 0.6],
      [0, 0.4, 0.6, 1],
      [0.4, 0.4, 1, 1],
    ].forEach((want, i) => close(windows[i] ?? [], want));
    const three = zoomWindows(3, 0.4);
    close(
      three.slice(0, 3).map((w) => w[0]),
      [0, 0.3, 0.6],
    );
    close((three[8] ?? []).slice(2), [1, 1]);
  });
  it.each([
    [0, 0.5],
    [2, 0.4],
    [2, 0],
    [1, 1.5],
    [1.5, 1],
  ])('refuses %s windows of side %s (gaps or no windows)', (grid, side) => {
    expect(() => zoomWindows(grid, side)).toThrow(RangeError);
  });
  it('picks the window holding the query nearest its centre; none when no window holds it', () => {
    const windows = zoomWindows(2, 0.6);
    expect(queryWindow([0.52, 0.1, 0.58, 0.2], windows)).toBe(windows[1]);
    expect(queryWindow([0.42, 0.1, 0.48, 0.2], windows)).toBe(windows[0]);
    expect(queryWindow([0.1, 0.5, 0.2, 0.55], windows)).toBe(windows[2]);
    expect(queryWindow([0.3, 0.3, 0.7, 0.5], windows)).toBeUndefined();
  });
  it('maps rectangles into a window and back', () => {
    const window = [0.4, 0.4, 1, 1] as const;
    close(toWindow([0.4, 0.4, 0.7, 1], window), [0, 0, 0.5, 1]);
    close(fromWindow(toWindow([0.5, 0.55, 0.6, 0.6], window), window), [0.5, 0.55, 0.6, 0.6]);
  });
});
