/**
 * `createDetector`: the public entry. The engine runs in a Web Worker (comlink); this side turns
 * images into transferable pixels, queues calls, and recovers: after a lost GPU device or a worker
 * crash the next call starts a fresh worker and reloads the model (from the Cache API when enabled).
 * Detectors created with the same model URL, backend and cache setting share one worker and one
 * loaded model (several <web-detr> elements on a page); each holds a reference until disposed.
 */
import { DisposedError, InputError, WebDetrError } from '../errors.js';
import type { LoadProgressCallback } from '../package/progress.js';
import type { WorkerLoadOptions } from '../worker/protocol.js';
import { CallQueue } from './call-queue.js';
import { startWatch } from './watch.js';
import { toWorkerImage } from './image-input.js';
import type {
  CreateDetectorOptions,
  DetectionResult,
  DetectOptions,
  Detector,
  ImageInput,
  OneShotResult,
  PatchDescriptors,
  PreparedImage,
  QueryPatch,
} from './types.js';
import { defaultWorkerFactory, openWorkerConnection, type WorkerConnection, type WorkerFactory } from './worker-connection.js';
import { transfer } from 'comlink';
import type { EnginePixels } from '../worker/image-store.js';

export interface CreateDetectorInternals {
  /** Tests and the embed bundle may supply how the worker is started. */
  workerFactory?: WorkerFactory;
}

interface SharedModel {
  key: string;
  options: WorkerLoadOptions;
  factory: WorkerFactory;
  connection: Promise<WorkerConnection>;
  queue: CallQueue;
  refs: number;
}

const sharedModels = new Map<string, SharedModel>();

function resolveModelUrl(model: string | URL): string {
  if (model instanceof URL) return model.href;
  if (typeof model !== 'string' || model.trim() === '')
    throw new InputError('createDetector needs a model URL (a manifest.json or its directory)');
  const base = typeof location !== 'undefined' ? location.href : undefined;
  try {
    return new URL(model, base).href;
  } catch (cause) {
    throw new InputError(`model is not a valid URL: ${model}`, { cause });
  }
}

/** onnxruntimeWasm, relative to the page like the model URL. */
function resolveRuntimeUrl(url: string | URL): string {
  try {
    return new URL(url, typeof location !== 'undefined' ? location.href : undefined).href;
  } catch (cause) {
    throw new InputError(`onnxruntimeWasm is not a valid URL: ${String(url)}`, { cause });
  }
}

/** Errors after which the worker is not trusted again: start a fresh one on the next call. */
function needsFreshWorker(error: unknown): boolean {
  return error instanceof WebDetrError && (error.code === 'device-lost' || error.code === 'worker-failed');
}

export async function createDetector(options: CreateDetectorOptions & CreateDetectorInternals): Promise<Detector> {
  const loadOptions: WorkerLoadOptions = {
    model: resolveModelUrl(options.model),
    backend: options.backend ?? 'auto',
    cache: options.cache ?? true,
    ...(options.onnxruntimeWasm === undefined ? {} : { runtimeUrl: resolveRuntimeUrl(options.onnxruntimeWasm) }),
  };
  if (!['auto', 'webgpu', 'wasm'].includes(loadOptions.backend))
    throw new InputError(`backend must be auto, webgpu or wasm, got ${String(loadOptions.backend)}`);
  const factory = options.workerFactory ?? defaultWorkerFactory;
  const key = `${loadOptions.model}|${loadOptions.backend}|${String(loadOptions.cache)}|${loadOptions.runtimeUrl ?? ''}`;
  let shared = options.workerFactory === undefined ? sharedModels.get(key) : undefined;
  if (shared === undefined) {
    shared = {
      key,
      options: loadOptions,
      factory,
      connection: openWorkerConnection(factory, loadOptions, options.onProgress),
      queue: new CallQueue(),
      refs: 0,
    };
    if (options.workerFactory === undefined) sharedModels.set(key, shared);
    shared.connection.catch(() => sharedModels.get(key) === shared && sharedModels.delete(key));
  } else if (options.onProgress) {
    const onProgress: LoadProgressCallback = options.onProgress;
    void shared.connection.then(
      (c) => onProgress({ status: 'ready', files: 0, totalBytes: c.model.downloadBytes + (c.model.runtimeBytes ?? 0) }),
      () => undefined,
    );
  }
  shared.refs++;
  let connection: WorkerConnection;
  try {
    connection = await shared.connection;
  } catch (error) {
    shared.refs--;
    throw error;
  }
  return wrapShared(shared, connection);
}

function wrapShared(shared: SharedModel, first: WorkerConnection): Detector {
  let disposed = false;
  let info = { backend: first.backend, model: first.model };

  async function live(): Promise<WorkerConnection> {
    let connection = await shared.connection.catch(() => undefined);
    if (connection === undefined || connection.dead) {
      // Recover: a fresh worker, the model reloaded (the Cache API makes this a local read). A failed
      // reload is retried on the next call instead of failing every later call.
      const reopening = openWorkerConnection(shared.factory, shared.options);
      shared.connection = reopening;
      connection = await reopening;
      info = { backend: connection.backend, model: connection.model };
    }
    return connection;
  }

  async function call<T>(run: (connection: WorkerConnection) => Promise<T>, replaceable = false): Promise<T> {
    if (disposed) throw new DisposedError('detector');
    return shared.queue.run(async () => {
      if (disposed) throw new DisposedError('detector');
      const connection = await live();
      try {
        return await run(connection);
      } catch (error) {
        if (needsFreshWorker(error)) await connection.close();
        throw error;
      }
    }, replaceable);
  }

  /** A prepared image crosses as its id; pixels cross with their bitmap transferred (comlink.transfer needs an object). */
  async function imageArgument(image: ImageInput | PreparedImage): Promise<number | EnginePixels> {
    if (isPrepared(image)) return image.id;
    const converted = await toWorkerImage(image);
    return transfer(converted.pixels, converted.transfer);
  }

  const detector: Detector = {
    get backend() {
      return info.backend;
    },
    get model() {
      return info.model;
    },
    async detect(image, detectOptions?: DetectOptions): Promise<DetectionResult> {
      if (disposed) throw new DisposedError('detector');
      const argument = await imageArgument(image);
      return call((c) => c.call((r) => r.detect(argument, detectOptions)), detectOptions?.replaceable ?? false);
    },
    async detectWithPatches(
      image,
      patches: readonly QueryPatch[] | PatchDescriptors | readonly PatchDescriptors[],
      detectOptions?: DetectOptions,
    ): Promise<OneShotResult> {
      if (disposed) throw new DisposedError('detector');
      // An array of rectangles, or a descriptor set (checked in the worker against the loaded package).
      if (!Array.isArray(patches) && (typeof patches !== 'object' || patches === null)) {
        throw new InputError('detectWithPatches needs an array of query patches or the descriptors describePatches returned');
      }
      const argument = await imageArgument(image);
      return call((c) => c.call((r) => r.detectWithPatches(argument, patches, detectOptions)), detectOptions?.replaceable ?? false);
    },
    async describePatches(image, patches: readonly QueryPatch[]): Promise<PatchDescriptors> {
      if (disposed) throw new DisposedError('detector');
      if (!Array.isArray(patches)) throw new InputError('describePatches needs an array of query patches');
      const argument = await imageArgument(image);
      return call((c) => c.call((r) => r.describePatches(argument, patches)));
    },
    async prepareImage(image) {
      if (disposed) throw new DisposedError('detector');
      const converted = await toWorkerImage(image);
      return call((c) => c.call((r) => r.prepareImage(transfer(converted.pixels, converted.transfer))));
    },
    async watch(source, watchOptions) {
      if (disposed) throw new DisposedError('detector');
      return startWatch(detector, source, watchOptions);
    },
    async stats() {
      return call((c) => c.call((r) => r.stats()));
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      shared.refs--;
      if (shared.refs > 0) return;
      if (sharedModels.get(shared.key) === shared) sharedModels.delete(shared.key);
      const connection = await shared.connection.catch(() => undefined);
      await connection?.close();
    },
  };
  return detector;
}

function isPrepared(image: ImageInput | PreparedImage): image is PreparedImage {
  return typeof image === 'object' && image !== null && (image as PreparedImage).kind === 'prepared-image';
}
