/**
 * Model download progress as a real byte count. The runtime reports files one at a time; each
 * file's `initiate` event also carries the whole load's file count and bytes (from the manifest the
 * worker fetched and verified), so the page never reads the manifest itself.
 */
import type { LoadProgressEvent, PrepareStep } from '../package/progress.js';
import { RUNTIME_FILE } from '../api/runtime-binary.js';

export interface LoadProgressElements {
  bar: HTMLProgressElement;
  text: HTMLElement;
}

export interface LoadProgressView {
  /** Starts a load; the returned callback goes to createDetector's onProgress. */
  start(what: string): (event: LoadProgressEvent) => void;
  finish(text: string): void;
  fail(text: string): void;
}

/** What the page waits for after the download, per step (src/package/progress.ts). */
const STEP_TEXT: Record<PrepareStep, (graphs?: number) => string> = {
  runtime: () => 'starting onnxruntime’s WebAssembly runtime',
  sessions: (graphs) => `creating onnxruntime sessions (${graphs ?? 'each'} graph${graphs === 1 ? '' : 's'}: parsing and optimizing)`,
  shaders: () => 'compiling WebGPU shaders',
};

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${bytes} B`;
}

export function createLoadProgress(elements: LoadProgressElements): LoadProgressView {
  let generation = 0;
  return {
    start(what) {
      const mine = ++generation;
      const { bar, text } = elements;
      delete text.dataset.kind;
      bar.hidden = false;
      bar.removeAttribute('value');
      text.textContent = `Loading ${what}…`;
      let plan: { files: number; bytes: number } | undefined;
      let started = 0;
      const loaded = new Map<string, number>();
      const totals = new Map<string, number>();
      let cached = 0;
      let downloaded = 'downloaded';
      return (event) => {
        if (mine !== generation) return;
        if (event.status === 'initiate') {
          started++;
          totals.set(event.file, event.total);
          if (event.fileCount !== undefined && event.totalBytes !== undefined) plan = { files: event.fileCount, bytes: event.totalBytes };
          loaded.set(event.file, 0);
        } else if (event.status === 'progress') {
          loaded.set(event.file, event.loaded);
        } else if (event.status === 'done') {
          loaded.set(event.file, event.total);
          if (event.fromCache) cached++;
        } else if (event.status === 'ready') {
          // Every file is here; what comes next is said by the `preparing` events.
          bar.value = bar.max = 1;
          downloaded = `all ${formatBytes(event.totalBytes)} downloaded${cached > 0 ? ' (from this browser’s cache)' : ''}`;
          text.textContent = `Loading ${what}: ${downloaded}; preparing it to run…`;
          return;
        } else if (event.status === 'preparing') {
          text.textContent = `Loading ${what}: ${downloaded}; ${STEP_TEXT[event.step](event.graphs)}…`;
          return;
        } else {
          return;
        }
        const sumTotals = [...totals.values()].reduce((a, b) => a + b, 0);
        const total = Math.max(plan?.bytes ?? 0, sumTotals);
        const done = [...loaded.values()].reduce((a, b) => a + b, 0);
        bar.max = total;
        bar.value = done;
        // The runtime is fetched first, before the worker knows how many graph files follow.
        const files =
          event.file === RUNTIME_FILE
            ? `file ${started}: onnxruntime’s WebAssembly runtime`
            : plan === undefined
              ? `file ${started}`
              : `file ${started} of ${plan.files}`;
        const source = cached > 0 ? ', from this browser’s cache' : '';
        text.textContent = `Loading ${what}: ${formatBytes(done)} of ${formatBytes(total)} (${files}${source})`;
      };
    },
    finish(message) {
      generation++;
      elements.bar.hidden = true;
      elements.text.textContent = message;
    },
    fail(message) {
      generation++;
      elements.bar.hidden = true;
      elements.text.textContent = message;
      elements.text.dataset.kind = 'error';
    },
  };
}
