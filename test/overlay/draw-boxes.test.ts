/**
 * The shared box and label drawing: label placement as a pure function (above the box, flipped
 * inside at the picture's top edge, slid left at its right edge) and the paint order on a fake 2D
 * context that records what was drawn (highest score last, i.e. on top).
 */
import { describe, expect, it } from 'vitest';
import type { BoxRect } from '../../src/api/types.js';
import { drawBoxes, overlayStyle, scoreLabel, type OverlayBox, type OverlayView } from '../../src/overlay/draw-boxes.js';
import { paintOrder, placeLabel } from '../../src/overlay/label-layout.js';
import { labelColor, patchColor } from '../../src/overlay/palette.js';

const picture: BoxRect = { x: 0, y: 0, width: 200, height: 100 };
const tab = { width: 50, height: 19 };

describe('placeLabel', () => {
  it('puts the tab above the box, aligned with its outline', () => {
    expect(placeLabel({ x: 40, y: 50, width: 60, height: 30 }, tab, picture, 3)).toEqual({ x: 38.5, y: 50 - 1.5 - 19 });
  });
  it('flips the tab inside the box when the box touches the top edge', () => {
    expect(placeLabel({ x: 40, y: 1.5, width: 60, height: 30 }, tab, picture, 3)).toEqual({ x: 38.5, y: 3 });
    // Exactly room for it above: it stays above.
    expect(placeLabel({ x: 40, y: 20.5, width: 60, height: 30 }, tab, picture, 3).y).toBe(0);
  });
  it('slides the tab left at the right edge and keeps it at the left edge', () => {
    expect(placeLabel({ x: 180, y: 50, width: 18, height: 30 }, tab, picture, 3).x).toBe(150);
    expect(placeLabel({ x: 1.5, y: 50, width: 18, height: 30 }, tab, picture, 3).x).toBe(0);
  });
  it('stays inside a letterboxed picture and never below its bottom', () => {
    const letterboxed = { x: 100, y: 40, width: 200, height: 30 };
    expect(placeLabel({ x: 120, y: 41.5, width: 175, height: 20 }, tab, letterboxed, 3)).toEqual({ x: 118.5, y: 43 });
    // No room above, and inside the box it would cross the picture's bottom: it ends at the bottom.
    expect(placeLabel({ x: 280, y: 60, width: 18, height: 9 }, tab, letterboxed, 3)).toEqual({ x: 250, y: 70 - 19 });
    // A picture lower than the tab: the tab starts at its top.
    expect(placeLabel({ x: 0, y: 5, width: 10, height: 2 }, tab, { x: 0, y: 0, width: 200, height: 10 }, 3).y).toBe(0);
  });
});

describe('paintOrder', () => {
  it('paints ascending by score, unscored patches above them, ties in input order, the highlight last', () => {
    const items = [{ score: 0.9 }, { score: 0.3 }, {}, { score: 0.6 }, { score: 0.3 }, {}];
    expect(paintOrder(items, null)).toEqual([1, 4, 3, 0, 2, 5]);
    expect(paintOrder(items, 1)).toEqual([4, 3, 0, 2, 5, 1]);
    expect(paintOrder([], null)).toEqual([]);
  });
});

type Call = { op: string; args: unknown[]; fill: string; stroke: string; alpha: number; lineWidth: number };

/** Records the drawing calls the overlay makes, with the state each was made in. */
function fakeContext(): { context: CanvasRenderingContext2D; calls: Call[] } {
  const calls: Call[] = [];
  const state = { fillStyle: '', strokeStyle: '', globalAlpha: 1, lineWidth: 1, font: '', textBaseline: 'alphabetic' };
  const stack: (typeof state)[] = [];
  const record =
    (op: string) =>
    (...args: unknown[]) =>
      void calls.push({ op, args, fill: state.fillStyle, stroke: state.strokeStyle, alpha: state.globalAlpha, lineWidth: state.lineWidth });
  const fake = Object.assign(state, {
    save: () => void stack.push({ ...state }),
    restore: () => void Object.assign(state, stack.pop()),
    setLineDash: record('setLineDash'),
    strokeRect: record('strokeRect'),
    fillRect: record('fillRect'),
    fillText: record('fillText'),
    measureText: (text: string) => ({ width: text.length * 7 }),
  });
  return { context: fake as unknown as CanvasRenderingContext2D, calls };
}

const view: OverlayView = {
  fit: { scale: 1, offsetX: 0, offsetY: 0 },
  picture: { width: 200, height: 100 },
  surface: { width: 200, height: 100 },
  style: overlayStyle(),
};
const det = (label: string, score: number, box: BoxRect): OverlayBox => ({
  box,
  color: labelColor(label),
  label: scoreLabel(label, score),
  score,
});

describe('drawBoxes', () => {
  const boxes = [
    det('cat', 0.9, { x: 10, y: 30, width: 80, height: 50 }),
    det('dog', 0.4, { x: 20, y: 35, width: 80, height: 50 }),
    det('cup', 0.7, { x: 150, y: 0, width: 50, height: 40 }),
  ];

  it('draws the highest-scored label last, on top, in readable text colour', () => {
    const { context, calls } = fakeContext();
    drawBoxes(context, boxes, view);
    const texts = calls.filter((c) => c.op === 'fillText');
    expect(texts.map((c) => c.args[0])).toEqual(['dog 40%', 'cup 70%', 'cat 90%']);
    expect(texts.at(-1)?.fill).toBe(labelColor('cat').text);
    // Each outline is drawn right before its own label tab.
    expect(calls.filter((c) => c.op === 'strokeRect').map((c) => c.stroke)).toEqual([
      labelColor('dog').stroke,
      labelColor('cup').stroke,
      labelColor('cat').stroke,
    ]);
  });

  it('keeps every tab inside the picture (the cup box at the top-right corner)', () => {
    const { context, calls } = fakeContext();
    drawBoxes(context, boxes, view);
    const tabs = calls.filter((c) => c.op === 'fillRect').map((c) => c.args as [number, number, number, number]);
    for (const [x, y, w, h] of tabs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(x + w).toBeLessThanOrEqual(200);
      expect(y + h).toBeLessThanOrEqual(100);
    }
    // "cup 70%" is 49 px + padding: slid left from the right edge and flipped inside the box.
    const [x, y, width] = tabs[1] ?? [];
    expect((x ?? 0) + (width ?? 0)).toBe(200);
    expect(y).toBe(1.5 + 1.5);
  });

  it('draws a highlighted box last and thick, the others faded', () => {
    const { context, calls } = fakeContext();
    drawBoxes(context, boxes, view, 1);
    const outlines = calls.filter((c) => c.op === 'strokeRect');
    expect(outlines.at(-1)?.stroke).toBe(labelColor('dog').stroke);
    expect(outlines.at(-1)?.lineWidth).toBe(view.style.highlightWidth);
    expect(outlines.at(-1)?.alpha).toBe(1);
    expect(outlines.slice(0, -1).every((c) => c.alpha === 0.45)).toBe(true);
    expect(calls.filter((c) => c.op === 'fillText').at(-1)?.args[0]).toBe('dog 40%');
  });

  it('draws a patch dashed above its matches, with handles when selected', () => {
    const { context, calls } = fakeContext();
    const color = patchColor(0);
    drawBoxes(
      context,
      [
        { box: { x: 50, y: 40, width: 40, height: 40 }, color, label: 'Patch 1', dashed: true, selected: true },
        { box: { x: 52, y: 41, width: 40, height: 40 }, color, label: 'P1 80%', score: 0.8 },
      ],
      view,
    );
    expect(calls.filter((c) => c.op === 'fillText').map((c) => c.args[0])).toEqual(['P1 80%', 'Patch 1']);
    expect(calls.filter((c) => c.op === 'setLineDash').map((c) => c.args[0])).toEqual([[], [], view.style.dash, []]);
    // Four corner handles plus one label tab per box.
    expect(calls.filter((c) => c.op === 'fillRect')).toHaveLength(4 + 2);
  });

  it('scales its sizes for a large canvas, never below the CSS-pixel look', () => {
    expect(overlayStyle(0.5)).toEqual(overlayStyle(1));
    expect(overlayStyle(2)).toMatchObject({ lineWidth: 6, fontPx: 26 });
  });
});
