/**
 * The `<web-detr>` status line while its model loads: the byte count of the whole download (graphs and
 * onnxruntime's .wasm, file k of n), then the step it waits for after the download. The same events as
 * the demo's progress bar (src/package/progress.ts), in one short line.
 */
import type { BackendInfo } from '../api/types.js';
import type { LoadProgressEvent, PrepareStep } from '../package/progress.js';

const STEP: Record<PrepareStep, string> = {
  runtime: 'starting the WebAssembly runtime',
  sessions: 'creating onnxruntime sessions',
  shaders: 'compiling WebGPU shaders',
};

function megabytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`;
}

/** Returns a function that takes each event and gives the line to show (undefined: keep the last). */
export function loadStatus(): (event: LoadProgressEvent) => string | undefined {
  const loaded = new Map<string, number>();
  const totals = new Map<string, number>();
  let planned = 0;
  let files: { index: number; count?: number } = { index: 0 };
  let downloaded = 0;
  return (event) => {
    switch (event.status) {
      case 'initiate':
        totals.set(event.file, event.total);
        loaded.set(event.file, 0);
        if (event.totalBytes !== undefined) planned = event.totalBytes;
        files = { index: totals.size, ...(event.fileCount !== undefined ? { count: event.fileCount } : {}) };
        break;
      case 'progress':
        loaded.set(event.file, event.loaded);
        break;
      case 'done':
        loaded.set(event.file, event.total);
        break;
      case 'ready':
        downloaded = event.totalBytes;
        return `Loading model: all ${megabytes(downloaded)} downloaded; preparing it…`;
      case 'preparing':
        return `Loading model: ${megabytes(downloaded)} downloaded; ${STEP[event.step]}…`;
      case 'prepared':
        return undefined;
    }
    const total = Math.max(
      planned,
      [...totals.values()].reduce((a, b) => a + b, 0),
    );
    const done = [...loaded.values()].reduce((a, b) => a + b, 0);
    const ofCount = files.count !== undefined ? ` of ${files.count}` : '';
    return `Loading model: ${megabytes(done)} of ${megabytes(total)} (file ${files.index}${ofCount})`;
  };
}

/**
 * The backend for the status line; on WASM also why (a fallback is never silent). The runtime's reason
 * names its JS option (`backend: "webgpu"`); on this element that option is the backend attribute.
 */
export function backendStatus(backend: BackendInfo): string {
  const reason = backend.reason.replace(/pass backend: "(\w+)"/, 'set backend="$1"').replace(/\(backend: "(\w+)"\)/, '(backend="$1")');
  return backend.name === 'wasm' ? `${backend.description}: ${reason}` : backend.description;
}
