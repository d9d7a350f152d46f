/**
 * One worker and the model loaded in it. Comlink promises never settle if the worker dies, so each
 * call races the worker's death: a crash rejects every pending call with WorkerError, and the owner
 * can start a fresh connection. Death is seen through the worker's error events and, for a worker
 * that ends without one (terminated, its thread killed or out of memory), through a Web Lock the
 * worker holds for its lifetime: the page's request for it is granted the moment the worker is gone,
 * with no polling and no timer (a busy worker, e.g. inside a long WASM graph run, is not mistaken
 * for a dead one).
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import { WorkerError } from '../errors.js';
import type { LoadProgressCallback, LoadProgressEvent } from '../package/progress.js';
import { runtimeBinary } from './runtime-binary.js';
import type { WorkerApi, WorkerLoadOptions } from '../worker/protocol.js';
import type { BackendInfo, ModelInfo } from './types.js';
import { installErrorTransfer } from './wire-errors.js';

export interface WorkerConnection {
  readonly backend: BackendInfo;
  readonly model: ModelInfo;
  readonly remote: Remote<WorkerApi>;
  /** Runs a remote call, rejecting with WorkerError if the worker dies first. */
  call<T>(run: (remote: Remote<WorkerApi>) => Promise<T>): Promise<T>;
  readonly dead: boolean;
  close(): Promise<void>;
}

export type WorkerFactory = () => Worker;

export const defaultWorkerFactory: WorkerFactory = () =>
  new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'webdetr' });

/** How long close() lets the worker release its GPU resources before terminating it anyway. */
const CLOSE_GRACE_MS = 5000;

/**
 * The worker takes a uniquely named Web Lock and keeps it; the page then queues for the same lock,
 * which the browser grants only when the worker ends. Where Web Locks are missing only error events
 * reveal a dead worker.
 */
async function watchLiveness(
  call: <T>(run: (r: Remote<WorkerApi>) => Promise<T>) => Promise<T>,
  signal: AbortSignal,
  onDeath: () => void,
): Promise<void> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  // Web Locks and randomUUID both exist exactly in secure contexts (as does WebGPU).
  if (locks === undefined || typeof globalThis.crypto?.randomUUID !== 'function') return;
  const name = `webdetr-worker-${crypto.randomUUID()}`;
  if (!(await call((r) => r.holdLiveness(name)))) return;
  locks.request(name, { signal }, () => onDeath()).catch(() => undefined);
}

/** Graph events from the worker, renumbered so the runtime file (fetched by the page first) is file 1 of the load. */
function withRuntimeFile(onProgress: LoadProgressCallback, runtimeBytes: () => number): LoadProgressCallback {
  return (event: LoadProgressEvent) => {
    const extra = runtimeBytes();
    if (extra === 0) return onProgress(event);
    if (event.status === 'initiate' && event.fileIndex !== undefined && event.fileCount !== undefined && event.totalBytes !== undefined) {
      return onProgress({ ...event, fileIndex: event.fileIndex + 1, fileCount: event.fileCount + 1, totalBytes: event.totalBytes + extra });
    }
    if (event.status === 'ready') return onProgress({ ...event, files: event.files + 1, totalBytes: event.totalBytes + extra });
    onProgress(event);
  };
}

export async function openWorkerConnection(
  factory: WorkerFactory,
  options: WorkerLoadOptions,
  onProgress?: LoadProgressCallback,
): Promise<WorkerConnection> {
  installErrorTransfer();
  let worker: Worker;
  try {
    worker = factory();
  } catch (cause) {
    throw new WorkerError(`could not start the webdetr worker: ${String(cause)}`, { cause });
  }
  let dead = false;
  let declareDeath: (error: WorkerError) => void = () => undefined;
  const death = new Promise<never>((_, reject) => {
    declareDeath = reject;
  });
  death.catch(() => undefined);
  const liveness = new AbortController();
  const die = (message: string): void => {
    if (dead) return;
    dead = true;
    declareDeath(new WorkerError(message));
    worker.terminate();
    liveness.abort();
  };
  worker.addEventListener('error', (event) => die(`the webdetr worker crashed: ${event.message || 'uncaught error'}`));
  worker.addEventListener('messageerror', () => die('the webdetr worker sent a message that could not be read'));
  const remote = wrap<WorkerApi>(worker);
  const call = <T>(run: (r: Remote<WorkerApi>) => Promise<T>): Promise<T> => {
    if (dead) return Promise.reject(new WorkerError('the webdetr worker is no longer running'));
    return Promise.race([run(remote), death]);
  };
  // The runtime's download comes first and counts as one more file of the load: the graphs' events
  // (numbered by the worker, which knows only the graphs) are shifted to include it.
  let runtimeBytes = 0;
  const progress = onProgress === undefined ? undefined : withRuntimeFile(onProgress, () => runtimeBytes);
  const progressProxy = progress ? proxy(progress) : undefined;
  const runtimeProxy = proxy(async (url: string) => {
    const bytes = await runtimeBinary(url, onProgress);
    runtimeBytes = bytes.byteLength;
    return bytes;
  });
  let loaded: { backend: BackendInfo; model: ModelInfo };
  try {
    await watchLiveness(call, liveness.signal, () =>
      die('the webdetr worker stopped without an error event (terminated, or its thread died or ran out of memory)'),
    );
    loaded = await call((r) => r.load(options, progressProxy, runtimeProxy));
  } catch (error) {
    remote[releaseProxy]();
    worker.terminate();
    dead = true;
    liveness.abort();
    throw error;
  }
  return {
    backend: loaded.backend,
    model: loaded.model,
    remote,
    call,
    get dead() {
      return dead;
    },
    async close() {
      if (dead) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([remote.dispose(), death, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      } catch {
        // The worker is being terminated anyway.
      } finally {
        clearTimeout(timer);
      }
      dead = true;
      remote[releaseProxy]();
      worker.terminate();
      liveness.abort();
    },
  };
}
