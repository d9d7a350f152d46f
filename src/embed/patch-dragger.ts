/**
 * Query patches by pointer or keyboard on a canvas showing the image at its own pixel size (CSS may
 * scale it). Pointer: each drag adds a patch (the oldest goes when the model's limit is reached).
 * Keyboard (canvas focused): Enter adds a centred patch or runs, arrows move the newest patch,
 * shift+arrows resize it, Delete removes it, Escape clears all. Every change that should run the
 * model calls `run` with all patches; in-progress drags call `draft` so the owner can redraw.
 */
import type { QueryPatch } from '../api/types.js';

export interface PatchDraggerCallbacks {
  run(patches: QueryPatch[]): void;
  draft(): void;
}

const MIN_SIDE = 4;

export class PatchDragger {
  private patches: QueryPatch[] = [];
  private drag: { x0: number; y0: number; patch: QueryPatch } | undefined;
  private enabled = false;
  private width = 0;
  private height = 0;
  private maxPatches = 1;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly callbacks: PatchDraggerCallbacks,
  ) {
    canvas.addEventListener('pointerdown', (event) => this.down(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    canvas.addEventListener('pointerup', (event) => this.up(event));
    canvas.addEventListener('pointercancel', () => this.cancel());
    canvas.addEventListener('keydown', (event) => this.key(event));
  }

  /** Patches drawn now (including one being dragged). */
  get pendingPatches(): QueryPatch[] {
    return this.drag ? [...this.patches, this.drag.patch] : [...this.patches];
  }

  enable(width: number, height: number, maxPatches: number): void {
    if (this.width !== width || this.height !== height) this.patches = [];
    Object.assign(this, { enabled: true, width, height, maxPatches: Math.max(1, maxPatches) });
  }

  disable(): void {
    this.enabled = false;
    this.patches = [];
    this.drag = undefined;
  }

  private point(event: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / Math.max(1, rect.width)) * this.width;
    const y = ((event.clientY - rect.top) / Math.max(1, rect.height)) * this.height;
    return { x: Math.min(this.width, Math.max(0, x)), y: Math.min(this.height, Math.max(0, y)) };
  }

  private down(event: PointerEvent): void {
    if (!this.enabled || event.button !== 0) return;
    const { x, y } = this.point(event);
    this.canvas.setPointerCapture(event.pointerId);
    this.drag = { x0: x, y0: y, patch: { x, y, width: 0, height: 0 } };
  }

  private move(event: PointerEvent): void {
    if (!this.drag) return;
    const { x, y } = this.point(event);
    const { x0, y0 } = this.drag;
    this.drag.patch = { x: Math.min(x0, x), y: Math.min(y0, y), width: Math.abs(x - x0), height: Math.abs(y - y0) };
    this.callbacks.draft();
  }

  private up(event: PointerEvent): void {
    if (!this.drag) return;
    this.move(event);
    const { patch } = this.drag;
    this.drag = undefined;
    if (patch.width < MIN_SIDE || patch.height < MIN_SIDE) return this.callbacks.draft();
    this.add(patch);
  }

  private cancel(): void {
    this.drag = undefined;
    this.callbacks.draft();
  }

  private add(patch: QueryPatch): void {
    this.patches.push(patch);
    while (this.patches.length > this.maxPatches) this.patches.shift();
    this.callbacks.run([...this.patches]);
  }

  private key(event: KeyboardEvent): void {
    if (!this.enabled) return;
    const step = Math.max(1, Math.round(Math.max(this.width, this.height) / 50));
    const newest = this.patches.at(-1);
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const delta = moves[event.key];
    if (delta && newest) {
      event.preventDefault();
      const [dx, dy] = delta;
      const next = event.shiftKey
        ? { ...newest, width: Math.max(MIN_SIDE, newest.width + dx), height: Math.max(MIN_SIDE, newest.height + dy) }
        : { ...newest, x: newest.x + dx, y: newest.y + dy };
      this.patches[this.patches.length - 1] = this.clamp(next);
      this.callbacks.draft();
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      if (newest === undefined) {
        const side = Math.round(Math.min(this.width, this.height) / 4);
        this.patches.push(this.clamp({ x: (this.width - side) / 2, y: (this.height - side) / 2, width: side, height: side }));
        this.callbacks.draft();
        return;
      }
      this.callbacks.run([...this.patches]);
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      event.preventDefault();
      this.patches.pop();
      this.callbacks.run([...this.patches]);
    } else if (event.key === 'Escape') {
      this.patches = [];
      this.callbacks.run([]);
    }
  }

  private clamp(patch: QueryPatch): QueryPatch {
    const width = Math.min(patch.width, this.width);
    const height = Math.min(patch.height, this.height);
    return { x: Math.min(Math.max(0, patch.x), this.width - width), y: Math.min(Math.max(0, patch.y), this.height - height), width, height };
  }
}
