/**
 * Model download progress as a real byte count. The runtime reports files one at a time, so the
 * grand total comes from the package's manifest: the graph files each backend's plan would load
 * (the worker's own planning functions), narrowed to the plan whose files are actually arriving.
 */
import type { LoadProgressEvent } from '../model/progress.js';
import { loadManifest } from '../model/load-package.js';
import { graphsOfPipelines } from '../model/pipeline-graphs.js';
import { planPipelines } from '../worker/pipeline-plan.js';

export interface LoadProgressElements {
  bar: HTMLProgressElement;
  text: HTMLElement;
}

export interface LoadProgressView {
  /** Starts a load; the returned callback goes to createDetector's onProgress. */
  start(manifestUrl: string, what: string): (event: LoadProgressEvent) => void;
  finish(text: string): void;
  fail(text: string): void;
}

interface CandidatePlan {
  files: string[];
  bytes: number;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${bytes} B`;
}

async function candidatePlans(manifestUrl: string): Promise<CandidatePlan[]> {
  // cache:false: the worker validates and caches; this is a small extra read of manifest.json.
  const { manifest } = await loadManifest(manifestUrl, { cache: false });
  return (['webgpu', 'wasm'] as const).map((backend) => {
    const graphs = graphsOfPipelines(manifest, planPipelines(manifest, backend).pipelines);
    return { files: graphs.map((g) => g.file), bytes: graphs.reduce((sum, g) => sum + g.bytes, 0) };
  });
}

export function createLoadProgress(elements: LoadProgressElements): LoadProgressView {
  let generation = 0;
  return {
    start(manifestUrl, what) {
      const mine = ++generation;
      const { bar, text } = elements;
      delete text.dataset.kind;
      bar.hidden = false;
      bar.removeAttribute('value');
      text.textContent = `Loading ${what}…`;
      let plans: CandidatePlan[] = [];
      void candidatePlans(manifestUrl).then((p) => (plans = p), () => undefined);
      const started: string[] = [];
      const loaded = new Map<string, number>();
      const totals = new Map<string, number>();
      let cached = 0;
      return (event) => {
        if (mine !== generation) return;
        if (event.status === 'initiate') {
          started.push(event.file);
          totals.set(event.file, event.total);
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
        const plan = plans.find((p) => started.every((file, i) => p.files[i] === file));
        const sumTotals = [...totals.values()].reduce((a, b) => a + b, 0);
        const total = Math.max(plan?.bytes ?? 0, sumTotals);
        const done = [...loaded.values()].reduce((a, b) => a + b, 0);
        bar.max = total;
        bar.value = done;
        const files = plan === undefined ? `file ${started.length}` : `file ${started.length} of ${plan.files.length}`;
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
