/**
 * Model download progress as a real byte count. The runtime reports files one at a time; each
 * file's `initiate` event also carries the whole load's file count and bytes (from the manifest the
 * worker fetched and verified), so the page never reads the manifest itself.
 */
import type { LoadProgressEvent } from '../package/progress.js';

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
        } else {
          // Every file is here; the sessions are still being created (seconds on a slow machine).
          bar.value = bar.max = 1;
          const source = cached > 0 ? ' (from this browser’s cache)' : '';
          text.textContent = `Loading ${what}: all ${formatBytes(event.totalBytes)} downloaded${source}; preparing it to run…`;
          return;
        }
        const sumTotals = [...totals.values()].reduce((a, b) => a + b, 0);
        const total = Math.max(plan?.bytes ?? 0, sumTotals);
        const done = [...loaded.values()].reduce((a, b) => a + b, 0);
        bar.max = total;
        bar.value = done;
        const files = plan === undefined ? `file ${started}` : `file ${started} of ${plan.files}`;
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
