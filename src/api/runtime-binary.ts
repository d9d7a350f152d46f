/**
 * onnxruntime-web's WebAssembly runtime (~28 MB), fetched once per page for every worker. Each detector
 * with another model has its own worker, and each worker's onnxruntime would fetch the .wasm itself:
 * twice the download for two <web-detr> elements with different models on a server without cache
 * headers. The worker asks the page (WorkerApi.load's runtimeBinary), the page fetches each URL once and
 * hands every worker a copy. Its download is reported as one more file of the load's progress.
 */
import { ModelFetchError } from '../errors.js';
import type { LoadProgressCallback, LoadProgressEvent } from '../package/progress.js';

/** The runtime's file name in progress events (the URL's hashed name means nothing to a reader). */
export const RUNTIME_FILE = 'onnxruntime-web runtime (.wasm)';

interface SharedFetch {
  bytes: Promise<ArrayBuffer>;
  listeners: Set<LoadProgressCallback>;
  /** The latest event, replayed to a listener that joins late (its bar needs the file's total). */
  initiate?: LoadProgressEvent;
  latest?: LoadProgressEvent;
}

const fetches = new Map<string, SharedFetch>();

async function download(url: string, shared: SharedFetch): Promise<ArrayBuffer> {
  const emit = (event: LoadProgressEvent): void => {
    if (event.status === 'initiate') shared.initiate = event;
    shared.latest = event;
    for (const listener of shared.listeners) listener(event);
  };
  let response: Response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch (cause) {
    throw new ModelFetchError(url, `could not fetch onnxruntime's WebAssembly runtime ${url}: ${String(cause)}`, { cause });
  }
  if (!response.ok)
    throw new ModelFetchError(url, `could not fetch onnxruntime's WebAssembly runtime ${url}: HTTP ${response.status}`, {
      status: response.status,
    });
  const total = Number(response.headers.get('content-length') ?? 0);
  emit({ status: 'initiate', file: RUNTIME_FILE, url, total });
  if (response.body === null) {
    const whole = await response.arrayBuffer();
    emit({ status: 'done', file: RUNTIME_FILE, total: whole.byteLength, fromCache: false });
    return whole;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    emit({ status: 'progress', file: RUNTIME_FILE, loaded, total: Math.max(total, loaded) });
  }
  const whole = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  emit({ status: 'done', file: RUNTIME_FILE, total: loaded, fromCache: false });
  return whole.buffer;
}

/**
 * The runtime's bytes at `url`, fetched once per page; `onProgress` sees that download (from where it
 * is when this call joins it). A failed fetch is forgotten, so the next load tries again.
 */
export function runtimeBinary(url: string, onProgress?: LoadProgressCallback): Promise<ArrayBuffer> {
  let shared = fetches.get(url);
  if (shared === undefined) {
    const created: SharedFetch = { bytes: Promise.resolve(new ArrayBuffer(0)), listeners: new Set() };
    created.bytes = download(url, created);
    created.bytes.catch(() => fetches.get(url) === created && fetches.delete(url));
    fetches.set(url, created);
    shared = created;
  } else if (onProgress !== undefined) {
    if (shared.initiate !== undefined) onProgress(shared.initiate);
    if (shared.latest !== undefined && shared.latest !== shared.initiate) onProgress(shared.latest);
  }
  const listener = onProgress;
  if (listener === undefined) return shared.bytes;
  const current = shared;
  current.listeners.add(listener);
  return current.bytes.finally(() => current.listeners.delete(listener));
}
