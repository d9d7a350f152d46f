/**
 * The Web Worker entry: owns the GPU device, the model and every buffer; exposes the engine through
 * comlink. One engine per worker; the page side (src/api/create-detector.ts) shares a worker between
 * detectors of the same model.
 */
import { expose, transfer } from 'comlink';
import * as ort from 'onnxruntime-web';
// The runtime file onnxruntime-web's bundle loads (it names the jsep build for WASM and WebGPU alike);
// the same asset, so the build emits it once.
import ORT_WASM_URL from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import { installErrorTransfer } from '../api/wire-errors.js';
import { InputError } from '../errors.js';
import type { WorkerApi, WorkerLoadOptions } from './protocol.js';
import { DetectorEngine, type ImageRef } from './engine.js';
import { installTestHooks } from './test-hooks.js';
import type { DetectionResult, DetectorStats, OneShotResult } from '../api/types.js';
import { installWasmMemoryProbe } from './wasm-memory-probe.js';

installErrorTransfer();
// Before any model loads: onnxruntime creates its WebAssembly memory at the first session.
const wasmMemory = installWasmMemoryProbe(globalThis);

/** Chromium's non-standard performance.memory, also present in workers. */
function workerJsHeap(): DetectorStats['workerJsHeap'] {
  const memory = (performance as Performance & { memory?: { usedJSHeapSize: number; totalJSHeapSize: number } }).memory;
  return memory === undefined
    ? undefined
    : { usedBytes: memory.usedJSHeapSize, totalBytes: memory.totalJSHeapSize, source: 'performance.memory' };
}

let engine: DetectorEngine | undefined;

function current(): DetectorEngine {
  if (engine === undefined) throw new InputError('no model is loaded in this worker');
  return engine;
}

/** Raw output arrays go back as transfers (no copy); the page gets fresh arrays anyway. */
function withTransfers<T extends DetectionResult | OneShotResult>(result: T): T {
  const buffers = result.raw ? [result.raw.logits.buffer, result.raw.boxes.buffer] : [];
  return transfer(result, buffers as ArrayBuffer[]);
}

const api: WorkerApi = {
  async holdLiveness(lockName) {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (locks === undefined) return false;
    // Held until this worker ends, however it ends: the page's request for the same lock is granted then.
    await new Promise<void>((granted) => {
      void locks.request(lockName, () => {
        granted();
        return new Promise<never>(() => undefined);
      });
    });
    return true;
  },
  async load(options: WorkerLoadOptions, onProgress, runtimeBinary) {
    if (engine !== undefined) throw new InputError('this worker already holds a model');
    // onnxruntime's .wasm comes from the page, which fetches it once for all its workers (several
    // <web-detr> elements with different models each have a worker); without the page's copy
    // onnxruntime fetches it itself, as before.
    const bytes = await runtimeBinary?.(options.runtimeUrl ?? new URL(ORT_WASM_URL, self.location.href).href);
    if (bytes !== undefined) ort.env.wasm.wasmBinary = new Uint8Array(bytes);
    engine = await DetectorEngine.create({ ...options, ...(onProgress ? { onProgress } : {}), wasmMemoryBytes: () => wasmMemory.bytes() });
    return { backend: engine.backend, model: { ...engine.model, runtimeBytes: bytes?.byteLength ?? 0 } };
  },
  async prepareImage(pixels) {
    return current().prepareImage(pixels);
  },
  async releaseImage(id) {
    current().releaseImage(id);
  },
  async detect(image: ImageRef, options) {
    return withTransfers(await current().detect(image, options));
  },
  async detectWithPatches(image: ImageRef, patches, options) {
    return withTransfers(await current().detectWithPatches(image, patches, options));
  },
  async describePatches(image: ImageRef, patches) {
    const described = await current().describePatches(image, patches);
    return described.descriptors instanceof Float32Array ? transfer(described, [described.descriptors.buffer as ArrayBuffer]) : described;
  },
  async counters() {
    return structuredClone(current().counters);
  },
  async stats() {
    const heap = workerJsHeap();
    return { ...current().stats(), ...(heap ? { workerJsHeap: heap } : {}) };
  },
  async dispose() {
    const disposing = engine;
    engine = undefined;
    await disposing?.dispose();
  },
};

expose(api);
installTestHooks(self as unknown as DedicatedWorkerGlobalScope, () => engine?.gpuDevice);
