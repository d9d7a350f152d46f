/**
 * Says plainly what ran: the backend (WebGPU adapter or WASM, and why), per-stage timings of the
 * last run, and messages (errors in words a newcomer can act on).
 */
import type { BackendInfo, StageTimings } from '../api/types.js';

export interface StatusElements {
  backend: HTMLElement;
  timings: HTMLElement;
  timingsNote: HTMLElement;
  message: HTMLElement;
}

export interface StatusView {
  showBackend(backend: BackendInfo): void;
  showTimings(timings: StageTimings | null, note: string): void;
  message(text: string, kind?: 'info' | 'error'): void;
}

const STAGES: { key: keyof Omit<StageTimings, 'stages'>; name: string }[] = [
  { key: 'preprocess', name: 'Preprocess' },
  { key: 'backbone', name: 'Backbone' },
  { key: 'encoder', name: 'Encoder' },
  { key: 'decoder', name: 'Decoder' },
  { key: 'postprocess', name: 'Post-process' },
  { key: 'total', name: 'Total' },
];

export function backendSentence(backend: BackendInfo): string {
  if (backend.name === 'webgpu')
    return /^WebGPU/i.test(backend.description) ? `Running on ${backend.description}.` : `Running on WebGPU: ${backend.description}.`;
  // The runtime's reason names its own option; on this page that option is ?backend=webgpu.
  const reason = backend.reason
    .replace(/; pass backend: "webgpu" to use it anyway$/, ' (add ?backend=webgpu to the address to use it anyway)')
    .replace(/\(backend: "(\w+)"\)/, '(?backend=$1 in the address)');
  const engine = /^wasm/i.test(backend.description) ? backend.description : `WASM (${backend.description})`;
  return `Running on ${engine}. ${capitalize(reason)}.`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function ms(value: number): string {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

export function createStatus(elements: StatusElements): StatusView {
  // One row per stage, created once: later runs only change the numbers (no layout shift).
  const cells = new Map<string, HTMLElement>();
  const rows = STAGES.map(({ key, name }) => {
    const row = document.createElement('tr');
    const head = document.createElement('th');
    head.scope = 'row';
    head.textContent = name;
    const cell = document.createElement('td');
    cell.textContent = '—';
    cells.set(key, cell);
    row.append(head, cell);
    if (key === 'total') row.className = 'total';
    return row;
  });
  elements.timings.replaceChildren(...rows);

  return {
    showBackend(backend) {
      elements.backend.textContent = backendSentence(backend);
      elements.backend.title = backendSentence(backend);
      elements.backend.dataset.backend = backend.name;
    },
    showTimings(timings, note) {
      for (const { key } of STAGES) {
        const cell = cells.get(key);
        if (cell === undefined) continue;
        const value = timings?.[key];
        cell.textContent = value === undefined || (value === 0 && key !== 'total') ? '—' : ms(value);
      }
      // A single-graph run counts backbone+encoder+decoder only as `model`: say so.
      const split = timings !== null && timings.backbone + timings.encoder + timings.decoder > 0;
      const single = timings !== null && !split && timings.model > 0 ? ` The model ran as one graph: ${ms(timings.model)}.` : '';
      elements.timingsNote.textContent = `${note}${single}`;
    },
    message(text, kind = 'info') {
      elements.message.textContent = text;
      elements.message.dataset.kind = kind;
    },
  };
}
