/**
 * The query-patch editor's state machine, shared by the demo and <web-detr>, without the DOM: points
 * are picture pixels, keys are KeyboardEvent.key values, and each step says what the owner should do
 * (redraw, or redraw and run the query). patch-editor.ts binds it to an element's events.
 *
 * Pointer: drag on empty picture draws a patch, drag a patch moves it, drag its corner resizes it;
 * releasing runs the query; a click on empty picture deselects. At the model's limit a new patch
 * replaces the oldest. The keyboard scheme is KEYBOARD_HELP below.
 */
import type { QueryPatch } from '../api/types.js';
import type { Size } from './label-layout.js';
import { clampRect, contains, rectFromPoints } from './rect.js';

export interface Point {
  x: number;
  y: number;
}

/** What the editor works on for one step. */
export interface EditorFrame {
  /** The picture's source size. */
  image: Size;
  /** Surface pixels per picture pixel: handle and click sizes are in surface (CSS) pixels. */
  scale: number;
  maxPatches: number;
}

/** `redraw`: patches, selection or draft changed; `commit`: also run the query with `patches`. */
export interface EditorStep {
  effect: 'none' | 'redraw' | 'commit';
  notice?: string;
}

type Drag =
  | { kind: 'draw'; start: Point }
  | { kind: 'move'; index: number; grab: Point; origin: QueryPatch }
  | { kind: 'resize'; index: number; anchor: Point };

/** Corner handles are grabbed within this many surface pixels. */
const HANDLE_PX = 12;
/** A drag smaller than this in both directions (surface pixels) is a click. */
const CLICK_PX = 6;

/** One key per action; the demo's hint, the element's docs and README say the same. */
export const KEYBOARD_HELP =
  'N adds a patch, 1-9 select one, arrows move it, Shift+arrows resize it, Enter searches, Delete removes it, ' +
  'Shift+Delete removes all, Escape deselects';

const NONE: EditorStep = { effect: 'none' };
const REDRAW: EditorStep = { effect: 'redraw' };
const COMMIT: EditorStep = { effect: 'commit' };
const ARROWS: Readonly<Record<string, readonly [number, number]>> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

const minSize = (image: Size) => Math.max(4, Math.round(Math.min(image.width, image.height) * 0.02));
const inside = (point: Point, image: Size): Point => ({
  x: Math.min(image.width, Math.max(0, point.x)),
  y: Math.min(image.height, Math.max(0, point.y)),
});

export class PatchEditorCore {
  private list: QueryPatch[] = [];
  private selectedIndex: number | null = null;
  private drawing: QueryPatch | null = null;
  private drag: Drag | null = null;

  get patches(): readonly QueryPatch[] {
    return this.list;
  }

  get selected(): number | null {
    return this.selectedIndex;
  }

  /** The rectangle being drawn right now (not yet a patch). */
  get draft(): QueryPatch | null {
    return this.drawing;
  }

  get dragging(): boolean {
    return this.drag !== null;
  }

  clear(): void {
    this.list = [];
    this.selectedIndex = null;
    this.drawing = null;
    this.drag = null;
  }

  pointerDown(at: Point, frame: EditorFrame): EditorStep {
    this.drag = this.hit(at, frame) ?? { kind: 'draw', start: inside(at, frame.image) };
    if (this.drag.kind !== 'draw') this.selectedIndex = this.drag.index;
    return REDRAW;
  }

  pointerMove(at: Point, frame: EditorFrame): EditorStep {
    const drag = this.drag;
    if (drag === null) return NONE;
    const { image } = frame;
    if (drag.kind === 'draw') {
      this.drawing = clampRect(rectFromPoints(drag.start, inside(at, image)), image, 1);
    } else if (drag.kind === 'move') {
      const { origin, grab } = drag;
      this.list[drag.index] = clampRect({ ...origin, x: origin.x + at.x - grab.x, y: origin.y + at.y - grab.y }, image, minSize(image));
    } else {
      this.list[drag.index] = clampRect(rectFromPoints(drag.anchor, inside(at, image)), image, minSize(image));
    }
    return REDRAW;
  }

  /** `at`: where the pointer was released (null: where it last moved). */
  pointerUp(at: Point | null, frame: EditorFrame): EditorStep {
    if (this.drag === null) return NONE;
    if (at !== null) this.pointerMove(at, frame);
    const drag = this.drag;
    this.drag = null;
    if (drag.kind !== 'draw') return COMMIT;
    const rect = this.drawing;
    this.drawing = null;
    if (rect === null || (rect.width * frame.scale < CLICK_PX && rect.height * frame.scale < CLICK_PX)) {
      this.selectedIndex = null; // a click on empty picture deselects
      return REDRAW;
    }
    const replaced = this.add(clampRect(rect, frame.image, minSize(frame.image)), frame.maxPatches);
    return replaced ? { effect: 'commit', notice: replacedNotice(frame.maxPatches) } : COMMIT;
  }

  pointerCancel(): EditorStep {
    if (this.drag === null && this.drawing === null) return NONE;
    this.drag = null;
    this.drawing = null;
    return REDRAW;
  }

  /** A key pressed on the focused picture (without Ctrl, Alt or Meta: the owner filters those). */
  key(key: string, shift: boolean, frame: EditorFrame): EditorStep {
    const { image } = frame;
    const current = this.selectedIndex === null ? undefined : this.list[this.selectedIndex];
    const arrow = ARROWS[key];
    if (key === 'n' || key === 'N') {
      const width = Math.round(image.width / 4);
      const height = Math.round(image.height / 4);
      const replaced = this.add(
        clampRect({ x: (image.width - width) / 2, y: (image.height - height) / 2, width, height }, image, minSize(image)),
        frame.maxPatches,
      );
      const added = `Patch ${this.list.length} added in the middle: arrows move it, Shift+arrows resize it, Enter finds similar objects.`;
      return { effect: 'redraw', notice: replaced ? `${replacedNotice(frame.maxPatches)} ${added}` : added };
    }
    if (/^[1-9]$/.test(key) && Number(key) <= this.list.length) {
      this.selectedIndex = Number(key) - 1;
      return REDRAW;
    }
    if (arrow !== undefined && current !== undefined && this.selectedIndex !== null) {
      const step = Math.max(1, Math.round(Math.min(image.width, image.height) * 0.02));
      const [dx, dy] = arrow;
      this.list[this.selectedIndex] = shift
        ? clampRect({ ...current, width: current.width + dx * step, height: current.height + dy * step }, image, minSize(image))
        : clampRect({ ...current, x: current.x + dx * step, y: current.y + dy * step }, image, minSize(image));
      return REDRAW;
    }
    if (key === 'Enter' && this.list.length > 0) return COMMIT;
    if ((key === 'Delete' || key === 'Backspace') && shift && this.list.length > 0) {
      this.list = [];
      this.selectedIndex = null;
      return COMMIT;
    }
    if ((key === 'Delete' || key === 'Backspace') && this.selectedIndex !== null) {
      this.list.splice(this.selectedIndex, 1);
      this.selectedIndex = this.list.length > 0 ? this.list.length - 1 : null;
      return COMMIT;
    }
    if (key === 'Escape' && this.selectedIndex !== null) {
      this.selectedIndex = null;
      return REDRAW;
    }
    return NONE;
  }

  /** Adds and selects a patch; true when the oldest had to go to stay within `maxPatches`. */
  private add(patch: QueryPatch, maxPatches: number): boolean {
    this.list.push(patch);
    const over = this.list.length - Math.max(1, maxPatches);
    if (over > 0) this.list.splice(0, over);
    this.selectedIndex = this.list.length - 1;
    return over > 0;
  }

  /** The selected patch first, so its handles win where patches overlap. */
  private hit(at: Point, frame: EditorFrame): Drag | null {
    const radius = HANDLE_PX / frame.scale;
    const indices = this.list.map((_, i) => i);
    const order = this.selectedIndex === null ? indices : [this.selectedIndex, ...indices.filter((i) => i !== this.selectedIndex)];
    for (const index of order) {
      const patch = this.list[index];
      if (patch === undefined) continue;
      const left = patch.x;
      const top = patch.y;
      const right = patch.x + patch.width;
      const bottom = patch.y + patch.height;
      for (const [cx, cy] of [
        [left, top],
        [right, top],
        [left, bottom],
        [right, bottom],
      ] as const) {
        // The anchor is the opposite corner.
        if (Math.abs(at.x - cx) <= radius && Math.abs(at.y - cy) <= radius)
          return { kind: 'resize', index, anchor: { x: cx === left ? right : left, y: cy === top ? bottom : top } };
      }
      if (contains(patch, at)) return { kind: 'move', index, grab: at, origin: { ...patch } };
    }
    return null;
  }
}

function replacedNotice(maxPatches: number): string {
  return `This model takes at most ${maxPatches} patch${maxPatches === 1 ? '' : 'es'} at once: the oldest was replaced.`;
}
