/**
 * Query patches for one-shot mode, by mouse, touch or keyboard. Drag on empty image to draw a
 * patch, drag a patch to move it, drag its corner to resize; releasing runs the query. Keyboard on
 * the focused picture: N adds a patch, 1-9 select one, arrows move it, Shift+arrows resize it,
 * Enter runs, Delete removes, Escape deselects.
 */
import type { QueryPatch } from '../api/types.js';
import { toImagePoint, toStage, type Fit } from '../geometry/letterbox.js';
import { clampRect, contains, rectFromPoints } from './geometry.js';

export interface PatchEditorHost {
  element: HTMLElement;
  fit(): Fit;
  imageSize(): { width: number; height: number } | null;
  /** Only in one-shot mode with a still image. */
  active(): boolean;
  maxPatches(): number;
}

export interface PatchEditor {
  readonly patches: readonly QueryPatch[];
  readonly selected: number | null;
  /** The rectangle being drawn right now (not yet a patch). */
  readonly draft: QueryPatch | null;
  clear(): void;
  onChange(listener: () => void): void;
  /** The patches changed and should be queried (drag end, Enter, Delete). */
  onCommit(listener: (patches: readonly QueryPatch[]) => void): void;
  onNotice(listener: (text: string) => void): void;
}

type Drag = { kind: 'draw'; start: { x: number; y: number } } | { kind: 'move'; index: number; grab: { x: number; y: number }; origin: QueryPatch } | { kind: 'resize'; index: number; anchor: { x: number; y: number } };

const HANDLE_PX = 12;
const CLICK_PX = 6;

export function createPatchEditor(host: PatchEditorHost): PatchEditor {
  let patches: QueryPatch[] = [];
  let selected: number | null = null;
  let draft: QueryPatch | null = null;
  let drag: Drag | null = null;
  let changeListener = () => undefined as void;
  let commitListener: (patches: readonly QueryPatch[]) => void = () => undefined;
  let noticeListener: (text: string) => void = () => undefined;

  const minSize = (size: { width: number; height: number }) => Math.max(4, Math.round(Math.min(size.width, size.height) * 0.02));
  const changed = () => changeListener();
  const commit = () => {
    changed();
    commitListener(patches.slice());
  };

  function stagePoint(event: PointerEvent): { x: number; y: number } {
    const bounds = host.element.getBoundingClientRect();
    return { x: event.clientX - bounds.left, y: event.clientY - bounds.top };
  }

  function hit(point: { x: number; y: number }): Drag | null {
    const fit = host.fit();
    const order = selected === null ? patches.map((_, i) => i) : [selected, ...patches.map((_, i) => i).filter((i) => i !== selected)];
    for (const index of order) {
      const patch = patches[index];
      if (patch === undefined) continue;
      const rect = toStage(patch, fit);
      const corners = [[rect.x, rect.y], [rect.x + rect.width, rect.y], [rect.x, rect.y + rect.height], [rect.x + rect.width, rect.y + rect.height]] as const;
      for (const [cx, cy] of corners) {
        if (Math.abs(point.x - cx) <= HANDLE_PX && Math.abs(point.y - cy) <= HANDLE_PX) {
          // The anchor is the opposite corner, in image pixels.
          const anchor = toImagePoint(cx === rect.x ? rect.x + rect.width : rect.x, cy === rect.y ? rect.y + rect.height : rect.y, fit);
          return { kind: 'resize', index, anchor };
        }
      }
      if (contains(rect, point)) return { kind: 'move', index, grab: toImagePoint(point.x, point.y, fit), origin: { ...patch } };
    }
    return null;
  }

  host.element.addEventListener('pointerdown', (event) => {
    const size = host.imageSize();
    if (!host.active() || size === null || event.button !== 0) return;
    const point = stagePoint(event);
    drag = hit(point) ?? { kind: 'draw', start: toImagePoint(point.x, point.y, host.fit()) };
    if (drag.kind !== 'draw') selected = drag.index;
    host.element.setPointerCapture(event.pointerId);
    host.element.focus({ preventScroll: true });
    event.preventDefault();
    changed();
  });

  host.element.addEventListener('pointermove', (event) => {
    const size = host.imageSize();
    if (drag === null || size === null) return;
    const fit = host.fit();
    const point = stagePoint(event);
    const at = toImagePoint(point.x, point.y, fit);
    if (drag.kind === 'draw') {
      draft = clampRect(rectFromPoints(drag.start, at), size, 1);
    } else if (drag.kind === 'move') {
      const { origin, grab } = drag;
      patches[drag.index] = clampRect({ ...origin, x: origin.x + at.x - grab.x, y: origin.y + at.y - grab.y }, size, minSize(size));
    } else {
      patches[drag.index] = clampRect(rectFromPoints(drag.anchor, at), size, minSize(size));
    }
    changed();
  });

  const endDrag = (event: PointerEvent) => {
    const size = host.imageSize();
    const current = drag;
    drag = null;
    if (current === null || size === null) return;
    if (host.element.hasPointerCapture(event.pointerId)) host.element.releasePointerCapture(event.pointerId);
    if (current.kind !== 'draw') return commit();
    const rect = draft;
    draft = null;
    const scale = host.fit().scale;
    if (rect === null || (rect.width * scale < CLICK_PX && rect.height * scale < CLICK_PX)) {
      selected = null; // a click on empty image deselects
      return changed();
    }
    if (patches.length >= host.maxPatches()) {
      noticeListener(`This model takes at most ${host.maxPatches()} patches at once: remove one first (select it, then Delete).`);
      return changed();
    }
    patches.push(clampRect(rect, size, minSize(size)));
    selected = patches.length - 1;
    commit();
  };
  host.element.addEventListener('pointerup', endDrag);
  host.element.addEventListener('pointercancel', (event) => {
    drag = null;
    draft = null;
    if (host.element.hasPointerCapture(event.pointerId)) host.element.releasePointerCapture(event.pointerId);
    changed();
  });

  host.element.addEventListener('keydown', (event) => {
    const size = host.imageSize();
    if (!host.active() || size === null || event.altKey || event.ctrlKey || event.metaKey) return;
    const step = Math.max(1, Math.round(Math.min(size.width, size.height) * 0.02));
    const current = selected === null ? undefined : patches[selected];
    const arrows: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const arrow = arrows[event.key];
    if (event.key === 'n' || event.key === 'N' || event.key === '+') {
      if (patches.length >= host.maxPatches()) {
        noticeListener(`This model takes at most ${host.maxPatches()} patches at once.`);
      } else {
        const width = Math.round(size.width / 4);
        const height = Math.round(size.height / 4);
        patches.push(clampRect({ x: (size.width - width) / 2, y: (size.height - height) / 2, width, height }, size, minSize(size)));
        selected = patches.length - 1;
        noticeListener(`Patch ${patches.length} added in the middle: arrows move it, Shift+arrows resize it, Enter finds similar objects.`);
      }
    } else if (/^[1-9]$/.test(event.key) && Number(event.key) <= patches.length) {
      selected = Number(event.key) - 1;
    } else if (arrow !== undefined && current !== undefined && selected !== null) {
      const [dx, dy] = arrow;
      patches[selected] = event.shiftKey
        ? clampRect({ ...current, width: current.width + dx * step, height: current.height + dy * step }, size, minSize(size))
        : clampRect({ ...current, x: current.x + dx * step, y: current.y + dy * step }, size, minSize(size));
    } else if (event.key === 'Enter' && patches.length > 0) {
      event.preventDefault();
      return commit();
    } else if ((event.key === 'Delete' || event.key === 'Backspace') && selected !== null) {
      patches.splice(selected, 1);
      selected = patches.length > 0 ? patches.length - 1 : null;
      event.preventDefault();
      return commit();
    } else if (event.key === 'Escape') {
      selected = null;
    } else {
      return;
    }
    event.preventDefault();
    changed();
  });

  return {
    get patches() {
      return patches;
    },
    get selected() {
      return selected;
    },
    get draft() {
      return draft;
    },
    clear() {
      patches = [];
      selected = null;
      draft = null;
      drag = null;
      changed();
    },
    onChange(listener) {
      changeListener = listener;
    },
    onCommit(listener) {
      commitListener = listener;
    },
    onNotice(listener) {
      noticeListener = listener;
    },
  };
}
