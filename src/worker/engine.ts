/**
 * The detector engine: everything behind one loaded model, in the worker that owns the GPU. `create`
 * loads the package, picks the backend and builds what runs it: a PackageRunner, the Preprocessor on
 * the same device (WGSL bilinear kernels on WebGPU, their TypeScript reference on WASM) and, for
 * packages that have it, zoomed search. A call then reads as its story: resolve the image,
 * preprocess, run the pipelines, post-process. Calls are serialized: they share GPU buffers.
 */
import type {
  BackendInfo,
  BackendPreference,
  DetectionResult,
  DetectorStats,
  DetectOptions,
  ModelInfo,
  OneShotResult,
  PatchDescriptors,
  PreparedImage,
  QueryPatch,
  StageTimings,
} from '../api/types.js';
import { DisposedError, GpuError, InputError } from '../errors.js';
import { trackGpuObjects, type GpuLedger } from '../gpu/gpu-ledger.js';
import { loadGraphs, loadManifest, type LoadPackageOptions } from '../package/load-package.js';
import type { Manifest } from '../package/manifest.js';
import type { PrepareStep } from '../package/progress.js';
import { type ResolvedDetectOptions, resolveDetectOptions } from '../postprocess/detections.js';
import { chooseBackend } from '../runtime/backend-choice.js';
import { createRunner, describeBackend } from '../runtime/create-runner.js';
import { warmOrtWasm } from '../runtime/ort-warmup.js';
import type { PackageRunner } from '../runtime/runner.js';
import { type CallContext, detectionResult, oneShotResult } from './call-results.js';
import { ImageEncoding } from './image-encoding.js';
import { ImageStore, type EnginePixels, type StoredImage } from './image-store.js';
import { modelInfo } from './model-info.js';
import { fillPatchSlots, patchBoxTensor, patchRects } from './patches.js';
import {
  checkDescriptorSets,
  DESCRIPTORS_FORMAT,
  DESCRIPTORS_TENSOR,
  descriptorInputs,
  isPatchDescriptors,
  packageIdentity,
  sealDescriptors,
} from './patch-descriptors.js';
import { planPipelines, type PipelinePlan } from './pipeline-plan.js';
import { createCpuPreprocessor } from './preprocess-cpu.js';
import { createGpuPreprocessor } from './preprocess-gpu.js';
import type { Preprocessor } from './preprocessor.js';
import { emptyTimings } from './timings.js';
import { createZoomedSearch, type ZoomedSearch } from './zoomed-search.js';

export interface EngineOptions extends Omit<LoadPackageOptions, 'signal'> {
  model: string;
  backend?: BackendPreference;
  /** navigator.gpu by default; tests inject the `webgpu` package's GPU or undefined. */
  gpu?: GPU | undefined;
  /** Bytes of onnxruntime's WebAssembly memory (the worker's probe), for stats(). */
  wasmMemoryBytes?: () => number | undefined;
  /** Start onnxruntime's WASM runtime while the graphs download (default true; WASM backend only). */
  warmRuntime?: boolean;
}

export type ImageRef = EnginePixels | number;

/** What runs one loaded package, built by DetectorEngine.create. */
interface EngineParts {
  plan: PipelinePlan;
  runner: PackageRunner;
  preprocessor: Preprocessor;
  /** One-shot packages: their image pipeline, and which image's encoding the runner holds. */
  encoding: ImageEncoding | undefined;
  /** Packages with input.queryPatch.zoom. */
  zoom: ZoomedSearch | undefined;
  /** WebGPU: every buffer and texture on the device, for stats(). */
  ledger: GpuLedger | undefined;
  wasmMemoryBytes: () => number | undefined;
  /** The package's identity, stamped on its patch descriptors (patch-descriptors.ts). */
  identity: string;
}

export class DetectorEngine {
  private readonly images = new ImageStore();
  private readonly plan: PipelinePlan;
  private readonly runner: PackageRunner;
  private readonly preprocessor: Preprocessor;
  private readonly encoding: ImageEncoding | undefined;
  private readonly zoom: ZoomedSearch | undefined;
  private readonly ledger: GpuLedger | undefined;
  private readonly wasmMemoryBytes: () => number | undefined;
  private readonly identity: string;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private uncapturedErrors = 0;

  private constructor(
    readonly manifest: Manifest,
    readonly backend: BackendInfo,
    readonly model: ModelInfo,
    parts: EngineParts,
  ) {
    this.plan = parts.plan;
    this.runner = parts.runner;
    this.preprocessor = parts.preprocessor;
    this.encoding = parts.encoding;
    this.zoom = parts.zoom;
    this.ledger = parts.ledger;
    this.wasmMemoryBytes = parts.wasmMemoryBytes;
    this.identity = parts.identity;
    this.runner.device?.addEventListener('uncapturederror', () => this.uncapturedErrors++);
  }

  static async create(options: EngineOptions): Promise<DetectorEngine> {
    const { manifest, manifestUrl } = await loadManifest(options.model, options);
    const gpu = 'gpu' in options ? options.gpu : (globalThis.navigator as Navigator | undefined)?.gpu;
    const choice = await chooseBackend(options.backend ?? 'auto', gpu);
    const plan = planPipelines(manifest);
    // On WASM, onnxruntime's runtime starts while the graphs download (ort-warmup.ts): seconds that
    // otherwise came after a full download bar.
    const warming = choice.name === 'wasm' && options.warmRuntime !== false ? warmOrtWasm() : undefined;
    warming?.catch(() => undefined);
    const loaded = await loadGraphs(manifest, manifestUrl, plan.pipelines, options);
    const ms: Partial<Record<PrepareStep, number>> = {};
    if (warming !== undefined) {
      options.onProgress?.({ status: 'preparing', step: 'runtime' });
      ms.runtime = await warming;
    }
    options.onProgress?.({ status: 'preparing', step: 'sessions', graphs: loaded.graphs.size });
    let stepStarted = performance.now();
    const runner = await createRunner(choice, manifest, loaded.graphs, plan.pipelines);
    ms.sessions = performance.now() - stepStarted;
    // From here on every buffer and texture on the device is counted (stats()); the preprocessor's too.
    const ledger = runner.device === undefined ? undefined : trackGpuObjects(runner.device);
    let preprocessor: Preprocessor;
    try {
      if (runner.device === undefined) preprocessor = createCpuPreprocessor(manifest);
      else {
        options.onProgress?.({ status: 'preparing', step: 'shaders' });
        stepStarted = performance.now();
        preprocessor = await createGpuPreprocessor(runner.device, manifest);
        ms.shaders = performance.now() - stepStarted;
      }
    } catch (error) {
      await runner.dispose();
      ledger?.dispose();
      throw error;
    }
    const oneShot = plan.oneShot;
    const encoding = oneShot === undefined ? undefined : new ImageEncoding(runner, oneShot.image);
    const zoom =
      oneShot?.zoom === undefined || encoding === undefined
        ? undefined
        : createZoomedSearch({
            manifest,
            runner,
            preprocessor,
            encoding,
            pipelines: oneShot.zoom,
            queriesPerPatch: oneShot.queriesPerPatch,
          });
    const backend: BackendInfo = {
      name: choice.name,
      description: describeBackend(choice),
      reason: choice.reason,
    };
    const model = modelInfo(manifest, plan, loaded.bytes);
    const identity = await packageIdentity(manifest);
    const wasmMemoryBytes = options.wasmMemoryBytes ?? (() => undefined);
    options.onProgress?.({ status: 'prepared', ms });
    return new DetectorEngine(manifest, backend, model, { plan, runner, preprocessor, encoding, zoom, ledger, wasmMemoryBytes, identity });
  }

  /** The GPUDevice this engine runs on (WebGPU backend), for the worker's test hooks. */
  get gpuDevice(): GPUDevice | undefined {
    return this.runner.device;
  }

  get counters() {
    return this.runner.counters;
  }

  /** Memory held now (see DetectorStats); the worker adds its JS heap. */
  stats(): Omit<DetectorStats, 'workerJsHeap'> {
    const counts = this.ledger?.counts();
    const wasmMemoryBytes = this.wasmMemoryBytes();
    return {
      backend: this.backend.name,
      ...(counts
        ? {
            gpu: {
              ...counts.ours,
              onnxruntimeBuffers: counts.onnxruntime.buffers,
              onnxruntimeBufferBytes: counts.onnxruntime.bufferBytes,
              uncapturedErrors: this.uncapturedErrors,
            },
          }
        : {}),
      sessions: this.runner.liveSessions,
      preparedImages: this.images.size,
      ...(wasmMemoryBytes !== undefined ? { wasmMemoryBytes } : {}),
    };
  }

  prepareImage(pixels: EnginePixels): PreparedImage {
    this.checkLive();
    return this.images.add(pixels).prepared;
  }

  releaseImage(id: number): void {
    this.images.release(id);
  }

  async detect(image: ImageRef, options?: DetectOptions): Promise<DetectionResult> {
    return this.serialize(() => this.runDetect(image, options));
  }

  async detectWithPatches(
    image: ImageRef,
    patches: readonly QueryPatch[] | PatchDescriptors | readonly PatchDescriptors[],
    options?: DetectOptions,
  ): Promise<OneShotResult> {
    if (isPatchDescriptors(patches)) return this.serialize(() => this.runWithDescriptors(image, [patches], options));
    // Several sets (patches described on different pictures or frames) are searched together.
    if (Array.isArray(patches) && patches.length > 0 && patches.every(isPatchDescriptors)) {
      return this.serialize(() => this.runWithDescriptors(image, patches as readonly PatchDescriptors[], options));
    }
    if (!Array.isArray(patches))
      throw new InputError('detectWithPatches needs an array of query patches, or the descriptors describePatches returned');
    return this.serialize(() => this.runOneShot(image, patches as readonly QueryPatch[], options));
  }

  /** Cross-image exemplars: the patches' descriptors, pooled from the whole encoded picture (see patch-descriptors.ts). */
  async describePatches(image: ImageRef, patches: readonly QueryPatch[]): Promise<PatchDescriptors> {
    return this.serialize(() => this.runDescribe(image, patches));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => undefined);
    this.images.dispose();
    this.preprocessor.dispose();
    await this.runner.dispose();
    this.ledger?.dispose();
  }

  private checkLive(): void {
    if (this.disposed) throw new DisposedError('detector');
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    this.checkLive();
    const guarded = async () => {
      try {
        return await work();
      } catch (error) {
        // After a GPU error (e.g. out of memory) cached GPU objects may be invalid: the runner has
        // dropped its buffers, so the image's encoding is gone, and the texture goes too. The next
        // call starts clean instead of failing on a half-made state.
        if (error instanceof GpuError) {
          this.preprocessor.reset();
          this.encoding?.forget();
        }
        throw error;
      }
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `work` on the image argument; one passed as pixels (`temporary`, not prepared) is released after it. */
  private async withImage<T>(image: ImageRef, work: (stored: StoredImage, temporary: boolean) => Promise<T>): Promise<T> {
    const temporary = typeof image !== 'number';
    const stored = temporary ? this.images.add(image) : this.images.get(image);
    try {
      return await work(stored, temporary);
    } finally {
      if (temporary) this.images.release(stored.prepared.id);
    }
  }

  /** What the result of a call on `stored` carries, with fresh timings. */
  private callContext(stored: StoredImage, resolved: ResolvedDetectOptions, started: number): CallContext {
    const imageSize = { width: stored.prepared.width, height: stored.prepared.height };
    return { manifest: this.manifest, backend: this.backend, resolved, imageSize, timings: emptyTimings(), started };
  }

  private async runDetect(image: ImageRef, options?: DetectOptions): Promise<DetectionResult> {
    this.checkLive();
    const pipeline = this.plan.detect;
    if (pipeline === undefined) {
      throw new InputError('this model detects only from query patches (UP-DETR pretraining): call detectWithPatches');
    }
    const resolved = resolveDetectOptions(this.manifest, options);
    const started = performance.now();
    return this.withImage(image, async (stored) => {
      const call = this.callContext(stored, resolved, started);
      const input = await this.preprocessor.image(stored);
      call.timings.preprocess = performance.now() - started;
      const run = await this.runner.run(pipeline, { image: input });
      // The detection pipeline overwrites encoder tensors a one-shot re-query would read.
      this.encoding?.forget();
      return detectionResult(call, pipeline, run);
    });
  }

  /** The describe/search pipelines (packages with describe_patches and patches_from_descriptors), else InputError. */
  private descriptorPipelines(): { encoding: ImageEncoding; describe: string; fromDescriptors: string; perPatch: number } {
    const plan = this.plan.oneShot;
    const zoom = plan?.zoom;
    if (plan === undefined || this.encoding === undefined || zoom === undefined) {
      throw new InputError(
        'this model cannot describe patches for other pictures: it needs a one-shot package with the describe_patches ' +
          'and patches_from_descriptors pipelines (box patches, such as the shipped one)',
      );
    }
    return { encoding: this.encoding, describe: zoom.describe, fromDescriptors: zoom.fromDescriptors, perPatch: plan.queriesPerPatch };
  }

  /** Encodes the whole picture unless the runner holds it already (a prepared image searched before). */
  private async encodeWhole(encoding: ImageEncoding, stored: StoredImage, temporary: boolean, timings: StageTimings): Promise<boolean> {
    const reused = !temporary && encoding.holds(stored.prepared.id);
    if (reused) return true;
    const started = performance.now();
    const input = await this.preprocessor.image(stored);
    timings.preprocess += performance.now() - started;
    await encoding.encode(input, timings, temporary ? undefined : stored.prepared.id);
    return false;
  }

  private async runDescribe(image: ImageRef, patches: readonly QueryPatch[]): Promise<PatchDescriptors> {
    this.checkLive();
    const { encoding, describe } = this.descriptorPipelines();
    if (!Array.isArray(patches)) throw new InputError('describePatches needs an array of query patches');
    return this.withImage(image, async (stored, temporary) => {
      const size = { width: stored.prepared.width, height: stored.prepared.height };
      const rects = patchRects(patches, size, this.model.maxPatches);
      await this.encodeWhole(encoding, stored, temporary, emptyTimings());
      const boxes = patchBoxTensor(rects, size);
      const described = (await this.runner.run(describe, { patches: boxes })).outputs[DESCRIPTORS_TENSOR];
      if (described === undefined) throw new InputError(`pipeline ${describe} gave no ${DESCRIPTORS_TENSOR}`);
      return await sealDescriptors({
        format: DESCRIPTORS_FORMAT,
        model: this.identity,
        width: described.dims[2] ?? described.data.length / patches.length,
        imageSize: size,
        patches: patches.map((p) => ({ x: p.x, y: p.y, width: p.width, height: p.height })),
        boxes: Float32Array.from(boxes.data),
        descriptors: Float32Array.from(described.data),
      });
    });
  }

  private async runWithDescriptors(image: ImageRef, sets: readonly PatchDescriptors[], options?: DetectOptions): Promise<OneShotResult> {
    this.checkLive();
    const { encoding, fromDescriptors, perPatch } = this.descriptorPipelines();
    const resolved = resolveDetectOptions(this.manifest, options);
    if (options?.zoom === true)
      throw new InputError(
        'zoom: true with patch descriptors: descriptors were pooled from their whole picture, so they search whole pictures only',
      );
    const width = this.manifest.tensors[DESCRIPTORS_TENSOR]?.shape[2];
    const checked = await checkDescriptorSets(sets, this.identity, typeof width === 'number' ? width : undefined, this.model.maxPatches);
    const started = performance.now();
    return this.withImage(image, async (stored, temporary) => {
      const call = this.callContext(stored, resolved, started);
      const reused = await this.encodeWhole(encoding, stored, temporary, call.timings);
      const inputNames = this.manifest.pipelines.find((p) => p.name === fromDescriptors)?.inputs ?? [];
      const run = await this.runner.run(fromDescriptors, descriptorInputs(inputNames, checked));
      return oneShotResult(call, fromDescriptors, run, { patches: checked.patches, perPatch, reused });
    });
  }

  private async runOneShot(image: ImageRef, patches: readonly QueryPatch[], options?: DetectOptions): Promise<OneShotResult> {
    this.checkLive();
    const plan = this.plan.oneShot;
    const encoding = this.encoding;
    if (plan === undefined || encoding === undefined)
      throw new InputError('this model has no query-patch branch; one-shot detection needs a one-shot (UP-DETR) package');
    const resolved = resolveDetectOptions(this.manifest, options);
    if (options?.zoom === true && this.zoom === undefined)
      throw new InputError('zoom: true, but this package has no zoomed search (manifest input.queryPatch.zoom)');
    const zoom = options?.zoom === false ? undefined : this.zoom;
    const started = performance.now();
    return this.withImage(image, async (stored, temporary) => {
      const call = this.callContext(stored, resolved, started);
      const given = patchRects(patches, call.imageSize, this.model.maxPatches);
      // Windows first, the whole image last: re-queries of large patches then reuse its encoding.
      const zoomed = await zoom?.search(stored, given, resolved, call.timings);
      const reused = !temporary && encoding.holds(stored.prepared.id);
      const preprocessStarted = performance.now();
      const imageInput = reused ? undefined : await this.preprocessor.image(stored);
      const patchInput = await this.preprocessor.patches(stored, fillPatchSlots(given, plan.patchSlots));
      call.timings.preprocess += performance.now() - preprocessStarted;
      if (imageInput !== undefined) await encoding.encode(imageInput, call.timings, temporary ? undefined : stored.prepared.id);
      const run = await this.runner.run(plan.patches, { patches: patchInput });
      return oneShotResult(call, plan.patches, run, { patches, perPatch: plan.queriesPerPatch, reused, zoomed });
    });
  }
}
