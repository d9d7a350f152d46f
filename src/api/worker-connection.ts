/**
 * One worker and the model loaded in it. Comlink promises never settle if the worker dies, so each
 * call races the worker's death: a crash rejects every pending call with WorkerError, and the owner
 * can start a fresh connection.
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import { WorkerError } from '../errors.js';
import type { LoadProgressCallback } from '../model/progress.js';
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
  const die = (message: string): void => {
    if (dead) return;
    dead = true;
    declareDeath(new WorkerError(message));
    worker.terminate();
  };
  worker.addEventListener('error', (event) => die(`the webdetr worker crashed: ${event.message || 'uncaught error'}`));
  worker.addEventListener('messageerror', () => die('the webdetr worker sent a message that could not be read'));
  const remote = wrap<WorkerApi>(worker);
  const call = <T>(run: (r: Remote<WorkerApi>) => Promise<T>): Promise<T> => {
    if (dead) return Promise.reject(new WorkerError('the webdetr worker is no longer running'));
    return Promise.race([run(remote), death]);
  };
  const progressProxy = onProgress ? proxy(onProgress) : undefined;
  let loaded: { backend: BackendInfo; model: ModelInfo };
  try {
    loaded = await call((r) => r.load(options, progressProxy));
  } catch (error) {
    remote[releaseProxy]();
    worker.terminate();
    dead = true;
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
      try {
        await Promise.race([remote.dispose(), death, new Promise((resolve) => setTimeout(resolve, 5000))]);
      } catch {
        // The worker is being terminated anyway.
      }
      dead = true;
      remote[releaseProxy]();
      worker.terminate();
    },
  };
}
