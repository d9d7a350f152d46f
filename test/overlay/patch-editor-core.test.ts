/**
 * The patch editor's state machine (demo and <web-detr>): pointer drags draw, move and resize
 * patches; the one keyboard scheme adds, selects, moves, resizes, searches, removes and deselects.
 */
import { describe, expect, it } from 'vitest';
import { KEYBOARD_HELP, PatchEditorCore, type EditorFrame } from '../../src/overlay/patch-editor-core.js';
import { clampRect, rectFromPoints } from '../../src/overlay/rect.js';

/** A 512×512 picture shown at half size: 12 CSS px of handle are 24 picture px. */
const frame: EditorFrame = { image: { width: 512, height: 512 }, scale: 0.5, maxPatches: 3 };
const step = Math.round(512 * 0.02);

function drag(core: PatchEditorCore, from: [number, number], to: [number, number], at = frame) {
  core.pointerDown({ x: from[0], y: from[1] }, at);
  core.pointerMove({ x: (from[0] + to[0]) / 2, y: (from[1] + to[1]) / 2 }, at);
  return core.pointerUp({ x: to[0], y: to[1] }, at);
}

describe('patch rectangles', () => {
  it('clamps patches into the image with a minimum size, whole pixels', () => {
    expect(clampRect({ x: -5.4, y: 190, width: 2, height: 30 }, { width: 100, height: 200 }, 4)).toEqual({
      x: 0,
      y: 170,
      width: 4,
      height: 30,
    });
    expect(rectFromPoints({ x: 50, y: 10 }, { x: 20, y: 40 })).toEqual({ x: 20, y: 10, width: 30, height: 30 });
  });
});

describe('PatchEditorCore: pointer', () => {
  it('draws a patch in any direction with a draft meanwhile, selects it and commits on release', () => {
    const core = new PatchEditorCore();
    core.pointerDown({ x: 300, y: 200 }, frame);
    expect(core.pointerMove({ x: 100, y: 50 }, frame)).toEqual({ effect: 'redraw' });
    expect(core.draft).toEqual({ x: 100, y: 50, width: 200, height: 150 });
    expect(core.patches).toEqual([]);
    expect(core.pointerUp({ x: 100.4, y: 50 }, frame)).toEqual({ effect: 'commit' });
    expect(core.patches).toEqual([{ x: 100, y: 50, width: 200, height: 150 }]);
    expect(core.selected).toBe(0);
    expect(core.draft).toBeNull();
  });

  it('clamps a drag that leaves the picture to its edge', () => {
    const core = new PatchEditorCore();
    drag(core, [400, 400], [700, 600]);
    expect(core.patches).toEqual([{ x: 400, y: 400, width: 112, height: 112 }]);
  });

  it('treats a tiny drag as a click: no patch, and a click on empty picture deselects', () => {
    const core = new PatchEditorCore();
    drag(core, [10, 10], [100, 100]);
    expect(core.selected).toBe(0);
    // 10 picture px at scale 0.5 are 5 CSS px: under the 6 px click size.
    expect(drag(core, [300, 300], [310, 310])).toEqual({ effect: 'redraw' });
    expect(core.patches).toHaveLength(1);
    expect(core.selected).toBeNull();
  });

  it('moves a patch dragged by its inside, clamped into the picture, and commits', () => {
    const core = new PatchEditorCore();
    drag(core, [100, 100], [200, 200]);
    drag(core, [300, 300], [350, 350]); // a second patch, selected
    expect(drag(core, [150, 150], [130, 170])).toEqual({ effect: 'commit' });
    expect(core.selected).toBe(0);
    expect(core.patches[0]).toEqual({ x: 80, y: 120, width: 100, height: 100 });
    drag(core, [150, 150], [-500, 150]);
    expect(core.patches[0]).toEqual({ x: 0, y: 120, width: 100, height: 100 });
  });

  it('resizes a patch dragged by a corner (within the handle size) from the opposite corner', () => {
    const core = new PatchEditorCore();
    drag(core, [100, 100], [200, 200]);
    // 20 picture px off the corner: inside the 24 px handle.
    expect(drag(core, [220, 180], [260, 300])).toEqual({ effect: 'commit' });
    expect(core.patches).toEqual([{ x: 100, y: 100, width: 160, height: 200 }]);
    // Past the anchor: the rectangle flips, as a drawn one does.
    drag(core, [100, 100], [300, 350]);
    expect(core.patches).toEqual([{ x: 260, y: 300, width: 40, height: 50 }]);
  });

  it('replaces the oldest patch at the model limit and says so', () => {
    const core = new PatchEditorCore();
    const one = { ...frame, maxPatches: 1 };
    drag(core, [10, 10], [100, 100], one);
    const step2 = drag(core, [300, 300], [400, 400], one);
    expect(step2).toEqual({ effect: 'commit', notice: 'This model takes at most 1 patch at once: the oldest was replaced.' });
    expect(core.patches).toEqual([{ x: 300, y: 300, width: 100, height: 100 }]);
    expect(core.selected).toBe(0);
  });

  it('drops the draft on pointer cancel', () => {
    const core = new PatchEditorCore();
    core.pointerDown({ x: 10, y: 10 }, frame);
    core.pointerMove({ x: 100, y: 100 }, frame);
    expect(core.pointerCancel()).toEqual({ effect: 'redraw' });
    expect(core.draft).toBeNull();
    expect(core.dragging).toBe(false);
    expect(core.pointerUp({ x: 100, y: 100 }, frame)).toEqual({ effect: 'none' });
    expect(core.patches).toEqual([]);
  });
});

describe('PatchEditorCore: keyboard', () => {
  it('N adds a centred patch a quarter of the picture, selected, without searching', () => {
    const core = new PatchEditorCore();
    const added = core.key('n', false, frame);
    expect(added.effect).toBe('redraw');
    expect(added.notice).toMatch(/^Patch 1 added in the middle/);
    expect(core.patches).toEqual([{ x: 192, y: 192, width: 128, height: 128 }]);
    expect(core.selected).toBe(0);
    expect(core.key('N', true, frame).effect).toBe('redraw');
    expect(core.patches).toHaveLength(2);
  });

  it('arrows move the selected patch by 2% of the picture, Shift+arrows resize it; Enter searches', () => {
    const core = new PatchEditorCore();
    core.key('n', false, frame);
    for (let i = 0; i < 3; i++) expect(core.key('ArrowRight', false, frame)).toEqual({ effect: 'redraw' });
    core.key('ArrowUp', false, frame);
    for (let i = 0; i < 2; i++) core.key('ArrowDown', true, frame);
    core.key('ArrowLeft', true, frame);
    expect(core.patches).toEqual([{ x: 192 + 3 * step, y: 192 - step, width: 128 - step, height: 128 + 2 * step }]);
    expect(core.key('Enter', false, frame)).toEqual({ effect: 'commit' });
  });

  it('1-9 select a patch; Escape deselects, after which arrows do nothing', () => {
    const core = new PatchEditorCore();
    drag(core, [10, 10], [100, 100]);
    drag(core, [300, 300], [400, 400]);
    expect(core.key('1', false, frame)).toEqual({ effect: 'redraw' });
    expect(core.selected).toBe(0);
    expect(core.key('3', false, frame)).toEqual({ effect: 'none' });
    core.key('ArrowRight', false, frame);
    expect(core.patches[0]?.x).toBe(10 + step);
    expect(core.key('Escape', false, frame)).toEqual({ effect: 'redraw' });
    expect(core.selected).toBeNull();
    expect(core.key('ArrowRight', false, frame)).toEqual({ effect: 'none' });
    // Nothing selected: Escape is not the editor's (a page may use it).
    expect(core.key('Escape', false, frame)).toEqual({ effect: 'none' });
  });

  it('Delete removes the selected patch and selects the newest; Shift+Delete removes all; both search', () => {
    const core = new PatchEditorCore();
    for (const [a, b] of [
      [10, 100],
      [150, 250],
      [300, 400],
    ] as const)
      drag(core, [a, a], [b, b]);
    core.key('1', false, frame);
    expect(core.key('Delete', false, frame)).toEqual({ effect: 'commit' });
    expect(core.patches.map((p) => p.x)).toEqual([150, 300]);
    expect(core.selected).toBe(1);
    expect(core.key('Backspace', false, frame)).toEqual({ effect: 'commit' });
    expect(core.patches.map((p) => p.x)).toEqual([150]);
    drag(core, [300, 300], [400, 400]);
    expect(core.key('Delete', true, frame)).toEqual({ effect: 'commit' });
    expect(core.patches).toEqual([]);
    expect(core.selected).toBeNull();
    // With nothing to remove or search, the keys are not the editor's.
    for (const key of ['Delete', 'Enter']) expect(core.key(key, false, frame)).toEqual({ effect: 'none' });
    expect(core.key('Delete', true, frame)).toEqual({ effect: 'none' });
  });

  it('N at the model limit replaces the oldest; other keys are ignored', () => {
    const core = new PatchEditorCore();
    const one = { ...frame, maxPatches: 1 };
    drag(core, [10, 10], [100, 100], one);
    const step2 = core.key('n', false, one);
    expect(step2.notice).toMatch(/^This model takes at most 1 patch at once: the oldest was replaced\. Patch 1 added/);
    expect(core.patches).toEqual([{ x: 192, y: 192, width: 128, height: 128 }]);
    for (const key of ['+', 'a', 'Tab', ' ']) expect(core.key(key, false, one)).toEqual({ effect: 'none' });
  });

  it('documents the keys it handles', () => {
    for (const word of [
      'N adds',
      '1-9 select',
      'arrows move',
      'Shift+arrows resize',
      'Enter searches',
      'Delete removes it',
      'Shift+Delete removes all',
      'Escape deselects',
    ])
      expect(KEYBOARD_HELP).toContain(word);
  });

  it('clear() forgets patches, selection, draft and drag', () => {
    const core = new PatchEditorCore();
    drag(core, [10, 10], [100, 100]);
    core.pointerDown({ x: 300, y: 300 }, frame);
    core.pointerMove({ x: 400, y: 400 }, frame);
    core.clear();
    expect([core.patches, core.selected, core.draft, core.dragging]).toEqual([[], null, null, false]);
  });
});
