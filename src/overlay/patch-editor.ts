/**
 * Binds the patch-editor core (patch-editor-core.ts) to an element's pointer and key events: the
 * demo's stage and <web-detr>'s canvas differ only in how a client point maps to picture pixels.
 */
import type { QueryPatch } from '../api/types.js';
import type { Size } from './label-layout.js';
import { PatchEditorCore, type EditorFrame, type EditorStep, type Point } from './patch-editor-core.js';

export interface PatchEditorHost {
  /** Receives the pointer and key events (focusable). */
  element: HTMLElement;
  /** A client (viewport) point in picture pixels. */
  toPicture(clientX: number, clientY: number): Point;
  /** Surface CSS pixels per picture pixel. */
  scale(): number;
  imageSize(): Size | null;
  /** Editing is on (one-shot mode with a still picture). */
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

export function attachPatchEditor(host: PatchEditorHost): PatchEditor {
  const core = new PatchEditorCore();
  let changeListener: () => void = () => undefined;
  let commitListener: (patches: readonly QueryPatch[]) => void = () => undefined;
  let noticeListener: (text: string) => void = () => undefined;
  const { element } = host;

  function frame(): EditorFrame | null {
    const image = host.imageSize();
    return image === null ? null : { image, scale: host.scale(), maxPatches: host.maxPatches() };
  }

  /** Tells the owner what a step changed; true when it changed anything. */
  function apply(step: EditorStep): boolean {
    if (step.notice !== undefined) noticeListener(step.notice);
    if (step.effect === 'none') return step.notice !== undefined;
    changeListener();
    if (step.effect === 'commit') commitListener(core.patches.slice());
    return true;
  }

  const release = (event: PointerEvent) => {
    if (element.hasPointerCapture(event.pointerId)) element.releasePointerCapture(event.pointerId);
  };

  element.addEventListener('pointerdown', (event) => {
    const current = frame();
    if (!host.active() || current === null || event.button !== 0) return;
    element.setPointerCapture(event.pointerId);
    // Focused, so the keys work on the patch just drawn.
    element.focus({ preventScroll: true });
    event.preventDefault();
    apply(core.pointerDown(host.toPicture(event.clientX, event.clientY), current));
  });
  element.addEventListener('pointermove', (event) => {
    const current = frame();
    if (current !== null && core.dragging) apply(core.pointerMove(host.toPicture(event.clientX, event.clientY), current));
  });
  element.addEventListener('pointerup', (event) => {
    const current = frame();
    release(event);
    if (current !== null && core.dragging) apply(core.pointerUp(host.toPicture(event.clientX, event.clientY), current));
  });
  element.addEventListener('pointercancel', (event) => {
    release(event);
    apply(core.pointerCancel());
  });
  element.addEventListener('keydown', (event) => {
    const current = frame();
    if (!host.active() || current === null || event.altKey || event.ctrlKey || event.metaKey) return;
    if (apply(core.key(event.key, event.shiftKey, current))) event.preventDefault();
  });

  return {
    get patches() {
      return core.patches;
    },
    get selected() {
      return core.selected;
    },
    get draft() {
      return core.draft;
    },
    clear() {
      core.clear();
      changeListener();
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
