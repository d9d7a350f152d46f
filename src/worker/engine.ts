/**
 * The detector engine: everything behind one loaded model, in the worker that owns the GPU. It picks
 * the backend, loads the graphs that backend needs, preprocesses pixels (WGSL bilinear kernels on
 * WebGPU, their TypeScript reference on WASM), runs the package's pipelines through a
 * PackageRunner, and post-processes. Calls are serialized: they share GPU buffers.
 */
import type { BackendInfo, BackendPreference, DetectionResult, DetectorStats, DetectOptions, ModelInfo, OneShotResult, PatchDetections, PreparedImage, QueryPatch, StageTimings } from '../api/types.js';
import { DisposedError, GpuError, InputError } from '../errors.js';
import { withGpuErrorScopes } from '../gpu/error-scope.js';
import type { RunnerInput, HostTensor, PackageRunner } from '../runtime/runner.js';
import { loadGraphs, loadManifest, type LoadPackageOptions } from '../package/load-package.js';
import type { Manifest } from '../package/manifest.js';
import { isBoxQueryPatch } from '../package/query-patch.js';
import { chooseBackend } from '../runtime/backend-choice.js';
import { ImageStore, type EnginePixels, type StoredImage } from './image-store.js';
import { fillPatchSlots, patchBoxTensor, patchRects } from './patches.js';
import { imageTensorCpu, patchTensorCpu, windowTensorCpu } from './preprocess-cpu.js';
import { createGpuPreprocessor, type GpuPreprocessor } from './preprocess-gpu.js';
import { DEFAULT_THRESHOLD, detectionsOf, rawOutputs, resolveDetectOptions, type ResolvedDetectOptions } from '../postprocess/detections.js';
import { addStages, emptyTimings } from './timings.js';
import { planPipelines, type PipelinePlan, type ZoomPipelines } from './pipeline-plan.js';
import { mergedDetections, planZoom, viewCandidates, type ViewCandidate, type ZoomPlan } from './zoomed-search.js';
import { WHOLE_IMAGE, type RelativeRect } from '../geometry/zoom-windows.js';
import { createRunner, describeBackend } from '../runtime/create-runner.js';
import { trackGpuObjects, type GpuLedger } from '../gpu/gpu-ledger.js';

export interface EngineOptions extends Omit<LoadPackageOptions, 'signal'> {
  model: string;
  backend?: BackendPreference;
  /** navigator.gpu by default; tests inject the `webgpu` package's GPU or undefined. */
  gpu?: GPU | undefined;
  /** Bytes of onnxruntime's WebAssembly memory (the worker's probe), for stats(). */
  wasmMemoryBytes?: () => number | undefined;
}

export type ImageRef = EnginePixels | number;

/** Zoomed search post-processes each view's boxes relative to it (a 1x1 image) and keeps them all until the merge. */
const UNIT_SIZE = { width: 1, height: 1 };
const DESCRIPTORS = 'patch_descriptors';
const allOf = (options: ResolvedDetectOptions): ResolvedDetectOptions => ({ ...options, maxDetections: Number.MAX_SAFE_INTEGER });

export class DetectorEngine {
  private readonly images = new ImageStore();
  /** The image whose encoder memory the runner holds (one-shot re-queries reuse it). */
  private encodedImageId: number | undefined;
  /** The image whose pixels the GPU preprocessor's texture holds (patch crops read it). */
  private uploadedImageId: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private uncapturedErrors = 0;

  private constructor(
    readonly manifest: Manifest,
    readonly backend: BackendInfo,
    readonly model: ModelInfo,
    private readonly plan: PipelinePlan,
    private readonly runner: PackageRunner,
    private readonly device: GPUDevice | undefined,
    private readonly gpuPreprocess: GpuPreprocessor | undefined,
    private readonly ledger: GpuLedger | undefined,
    private readonly wasmMemoryBytes: () => number | undefined,
  ) {
    device?.addEventListener('uncapturederror', () => this.uncapturedErrors++);
  }

  static async create(options: EngineOptions): Promise<DetectorEngine> {
    const { manifest, manifestUrl } = await loadManifest(options.model, options);
    const gpu = 'gpu' in options ? options.gpu : (globalThis.navigator as Navigator | undefined)?.gpu;
    const choice = await chooseBackend(options.backend ?? 'auto', gpu);
    const plan = planPipelines(manifest, choice.name);
    const loaded = await loadGraphs(manifest, manifestUrl, plan.pipelines, options);
    const runner = await createRunner(choice, manifest, loaded.graphs, plan.pipelines);
    // From here on every buffer and texture on the device is counted (stats()); the preprocessor's too.
    const ledger = runner.device === undefined ? undefined : trackGpuObjects(runner.device);
    let gpuPreprocess: GpuPreprocessor | undefined;
    try {
      if (runner.device !== undefined) gpuPreprocess = await createGpuPreprocessor(runner.device, manifest);
    } catch (error) {
      await runner.dispose();
      ledger?.dispose();
      throw error;
    }
    const backend: BackendInfo = {
      name: choice.name,
      description: describeBackend(choice),
      reason: choice.reason,
    };
    const { height, width } = manifest.input.sizePolicy;
    const model: ModelInfo = {
      family: manifest.model.family,
      variant: manifest.model.variant,
      classNames: [...manifest.output.classNames],
      inputSize: { width, height },
      oneShot: plan.oneShot !== undefined,
      detection: plan.detect !== undefined,
      maxPatches: manifest.input.queryPatch?.maxPatches ?? 0,
      ...(plan.oneShot?.zoom !== undefined ? { zoom: { ...plan.oneShot.zoom.spec } } : {}),
      scoreThreshold: manifest.output.scoreThreshold ?? DEFAULT_THRESHOLD,
      downloadBytes: loaded.bytes,
    };
    return new DetectorEngine(manifest, backend, model, plan, runner, runner.device, gpuPreprocess, ledger, options.wasmMemoryBytes ?? (() => undefined));
  }

  /** The GPUDevice this engine runs on (WebGPU backend), for the worker's test hooks. */
  get gpuDevice(): GPUDevice | undefined {
    return this.device;
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
        ? { gpu: { ...counts.ours, onnxruntimeBuffers: counts.onnxruntime.buffers, onnxruntimeBufferBytes: counts.onnxruntime.bufferBytes, uncapturedErrors: this.uncapturedErrors } }
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

  async detectWithPatches(image: ImageRef, patches: readonly QueryPatch[], options?: DetectOptions): Promise<OneShotResult> {
    return this.serialize(() => this.runOneShot(image, patches, options));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => undefined);
    this.images.dispose();
    this.gpuPreprocess?.dispose();
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
          this.gpuPreprocess?.reset();
          this.uploadedImageId = undefined;
          this.encodedImageId = undefined;
        }
        throw error;
      }
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves an image argument; `temporary` images are released after the call. */
  private resolveImage(image: ImageRef): { stored: StoredImage; temporary: boolean } {
    if (typeof image === 'number') return { stored: this.images.get(image), temporary: false };
    return { stored: this.images.add(image), temporary: true };
  }

  private imageInput(stored: StoredImage): RunnerInput {
    if (this.gpuPreprocess) {
      this.uploadedImageId = stored.prepared.id;
      return this.gpuPreprocess.image(stored.pixels);
    }
    return imageTensorCpu(this.images.rgba(stored), this.manifest);
  }

  private async runDetect(image: ImageRef, options?: DetectOptions): Promise<DetectionResult> {
    this.checkLive();
    const pipeline = this.plan.detect;
    if (pipeline === undefined) {
      throw new InputError('this model detects only from query patches (UP-DETR pretraining): call detectWithPatches');
    }
    const resolved = resolveDetectOptions(this.manifest, options);
    const started = performance.now();
    const { stored, temporary } = this.resolveImage(image);
    try {
      const timings = emptyTimings();
      const input = await this.preprocess(stored, () => this.imageInput(stored));
      timings.preprocess = performance.now() - started;
      const result = await this.runner.run(pipeline, { image: input });
      // The detection pipeline overwrites encoder tensors a one-shot re-query would read.
      this.encodedImageId = undefined;
      addStages(timings, result.stages);
      const post = performance.now();
      const logits = result.outputs[this.manifest.output.logits];
      const boxes = result.outputs[this.manifest.output.boxes];
      if (logits === undefined || boxes === undefined) throw new InputError(`pipeline ${pipeline} gave no logits/boxes`);
      const size = { width: stored.prepared.width, height: stored.prepared.height };
      const detections = detectionsOf(this.manifest, logits, boxes, size, resolved);
      timings.postprocess = performance.now() - post;
      timings.total = performance.now() - started;
      return {
        detections,
        timings,
        backend: this.backend,
        imageSize: size,
        ...(resolved.raw ? { raw: rawOutputs(logits, boxes) } : {}),
      };
    } finally {
      if (temporary) this.images.release(stored.prepared.id);
    }
  }

  private async runOneShot(image: ImageRef, patches: readonly QueryPatch[], options?: DetectOptions): Promise<OneShotResult> {
    this.checkLive();
    const plan = this.plan.oneShot;
    if (plan === undefined) throw new InputError('this model has no query-patch branch; one-shot detection needs a one-shot (UP-DETR) package');
    const resolved = resolveDetectOptions(this.manifest, options);
    if (options?.zoom === true && plan.zoom === undefined) throw new InputError('zoom: true, but this package has no zoomed search (manifest input.queryPatch.zoom)');
    const zoom = options?.zoom === false ? undefined : plan.zoom;
    const started = performance.now();
    const { stored, temporary } = this.resolveImage(image);
    try {
      const size = { width: stored.prepared.width, height: stored.prepared.height };
      const given = patchRects(patches, size, this.model.maxPatches);
      const rects = fillPatchSlots(given, plan.patchSlots);
      const timings = emptyTimings();
      const zoomPlan = zoom === undefined ? undefined : planZoom(given, size, zoom.spec);
      // Windows first, the whole image last: re-queries of large patches then reuse its encoding.
      const windowCandidates = zoom !== undefined && zoomPlan !== undefined ? await this.searchWindows(plan.image, stored, zoom, zoomPlan, resolved, timings) : undefined;
      const reused = !temporary && this.encodedImageId === stored.prepared.id;
      const preprocessStarted = performance.now();
      const { imageInput, patchInput } = await this.preprocess(stored, () => {
        const image = reused ? undefined : this.imageInput(stored);
        let patchTensor: RunnerInput;
        const spec = this.manifest.input.queryPatch;
        if (spec !== undefined && isBoxQueryPatch(spec)) {
          // The model pools its own image features over the rectangles: no pixels, no crops.
          patchTensor = patchBoxTensor(rects, size);
        } else if (this.gpuPreprocess) {
          this.ensureUploaded(stored);
          patchTensor = this.gpuPreprocess.patches(rects);
        } else {
          patchTensor = patchTensorCpu(this.images.rgba(stored), rects, this.manifest);
        }
        return { imageInput: image, patchInput: patchTensor };
      });
      timings.preprocess += performance.now() - preprocessStarted;
      if (imageInput !== undefined) await this.encode(plan.image, imageInput, timings, temporary ? undefined : stored.prepared.id);
      const result = await this.runner.run(plan.patches, { patches: patchInput });
      addStages(timings, result.stages);
      const post = performance.now();
      const { logits, boxes } = this.modelOutputs(plan.patches, result.outputs);
      const perPatch = plan.queriesPerPatch;
      const results = patches.map((patch, index): PatchDetections => {
        if (zoom === undefined) {
          return { patch: { ...patch }, detections: detectionsOf(this.manifest, logits, boxes, size, resolved, index * perPatch, perPatch), views: 1 };
        }
        // With zoom on, every patch's boxes are clamped to the image and merged by NMS, as the reference does.
        const whole = viewCandidates(detectionsOf(this.manifest, logits, boxes, UNIT_SIZE, allOf(resolved), index * perPatch, perPatch), WHOLE_IMAGE);
        const windows = windowCandidates?.get(index) ?? [];
        return {
          patch: { ...patch },
          detections: mergedDetections([...whole, ...windows], zoom.spec.nmsIou, resolved.maxDetections, size),
          views: windowCandidates?.has(index) === true ? 1 + (zoomPlan?.windows.length ?? 0) : 1,
        };
      });
      timings.postprocess = performance.now() - post;
      timings.total = performance.now() - started;
      return {
        patches: results,
        timings,
        backend: this.backend,
        imageSize: size,
        reusedImageFeatures: reused,
        ...(resolved.raw ? { raw: rawOutputs(logits, boxes, patches.length * perPatch) } : {}),
      };
    } finally {
      if (temporary) this.images.release(stored.prepared.id);
    }
  }

  /**
   * Zoomed search's window views: per window holding small patches, encode it and pool their descriptors
   * there; then, in every window, decode all of them. Returns each small patch's candidates from all
   * windows (boxes relative to the image). Leaves no image encoded.
   */
  private async searchWindows(imagePipeline: string, stored: StoredImage, zoom: ZoomPipelines, zoomPlan: ZoomPlan, resolved: ResolvedDetectOptions, timings: StageTimings): Promise<Map<number, ViewCandidate[]>> {
    const { windows, groups, zoomed, windowBoxes } = zoomPlan;
    const descriptorParts: HostTensor[] = [];
    let encoded: number | undefined;
    let first = 0;
    for (const group of groups) {
      await this.encodeWindow(imagePipeline, stored, windows[group.window] ?? WHOLE_IMAGE, timings);
      encoded = group.window;
      // The groups' rows of windowBoxes are contiguous (zoomed = the groups concatenated).
      const count = group.patches.length;
      const boxes: HostTensor = { data: windowBoxes.data.slice(4 * first, 4 * (first + count)), dims: [1, count, 4] };
      first += count;
      const result = await this.runner.run(zoom.describe, { patches: boxes });
      addStages(timings, result.stages);
      const part = result.outputs[DESCRIPTORS];
      if (part === undefined) throw new InputError(`pipeline ${zoom.describe} gave no ${DESCRIPTORS}`);
      descriptorParts.push(part);
    }
    const width = descriptorParts[0]?.dims[2] ?? 0;
    const descriptors: HostTensor = { data: new Float32Array(zoomed.length * width), dims: [1, zoomed.length, width] };
    let offset = 0;
    for (const part of descriptorParts) {
      descriptors.data.set(part.data, offset);
      offset += part.data.length;
    }
    const known: Record<string, HostTensor> = { [DESCRIPTORS]: descriptors, patches: windowBoxes };
    // The package says which of the two it reads (the patch boxes only when its queries or head weigh sizes).
    const inputs = Object.fromEntries((this.manifest.pipelines.find((p) => p.name === zoom.fromDescriptors)?.inputs ?? []).map((name) => {
      const tensor = known[name];
      if (tensor === undefined) throw new InputError(`pipeline ${zoom.fromDescriptors} reads ${name}; zoomed search passes only ${Object.keys(known).join(' and ')}`);
      return [name, tensor];
    }));
    const candidates = new Map<number, ViewCandidate[]>(zoomed.map((index) => [index, []]));
    // The window encoded last is searched first: one encoding fewer.
    const order = windows.map((_, index) => index).sort((a, b) => Number(b === encoded) - Number(a === encoded));
    const perPatch = this.plan.oneShot?.queriesPerPatch ?? 0;
    // Thresholding before the merge keeps the same boxes: NMS only lets higher scores suppress lower ones.
    const all = allOf(resolved);
    for (const index of order) {
      const window = windows[index] ?? WHOLE_IMAGE;
      if (index !== encoded) await this.encodeWindow(imagePipeline, stored, window, timings);
      encoded = index;
      const result = await this.runner.run(zoom.fromDescriptors, inputs);
      addStages(timings, result.stages);
      const { logits, boxes } = this.modelOutputs(zoom.fromDescriptors, result.outputs);
      zoomed.forEach((patch, j) => {
        candidates.get(patch)?.push(...viewCandidates(detectionsOf(this.manifest, logits, boxes, UNIT_SIZE, all, j * perPatch, perPatch), window));
      });
    }
    return candidates;
  }

  /** Crops `window` of the image, stretched to the model input, and runs the image pipeline on it. */
  private async encodeWindow(imagePipeline: string, stored: StoredImage, window: RelativeRect, timings: StageTimings): Promise<void> {
    const { width, height } = stored.prepared;
    const rect = [window[0] * width, window[1] * height, window[2] * width, window[3] * height] as const;
    const started = performance.now();
    const input = await this.preprocess(stored, (): RunnerInput => {
      if (this.gpuPreprocess) {
        this.ensureUploaded(stored);
        return this.gpuPreprocess.window(rect);
      }
      return windowTensorCpu(this.images.rgba(stored), rect, this.manifest);
    });
    timings.preprocess += performance.now() - started;
    await this.encode(imagePipeline, input, timings, undefined);
  }

  /** Runs the image pipeline; `imageId`: the image whose encoding the runner then holds (undefined: a window or a temporary image). */
  private async encode(pipeline: string, input: RunnerInput, timings: StageTimings, imageId: number | undefined): Promise<void> {
    this.encodedImageId = undefined;
    addStages(timings, (await this.runner.run(pipeline, { image: input })).stages);
    this.encodedImageId = imageId;
  }

  private ensureUploaded(stored: StoredImage): void {
    if (this.gpuPreprocess === undefined || this.uploadedImageId === stored.prepared.id) return;
    this.gpuPreprocess.upload(stored.pixels);
    this.uploadedImageId = stored.prepared.id;
  }

  private modelOutputs(pipeline: string, outputs: Record<string, HostTensor>): { logits: HostTensor; boxes: HostTensor } {
    const logits = outputs[this.manifest.output.logits];
    const boxes = outputs[this.manifest.output.boxes];
    if (logits === undefined || boxes === undefined) throw new InputError(`pipeline ${pipeline} gave no logits/boxes`);
    return { logits, boxes };
  }

  /**
   * Runs preprocessing and, on WebGPU, waits for its GPU work (an honest preprocess time) inside error
   * scopes: an image whose texture does not fit in GPU memory becomes a GpuError naming its size.
   */
  private async preprocess<T>(stored: StoredImage, work: () => T): Promise<T> {
    const device = this.device;
    if (device === undefined) return work();
    const { width, height } = stored.prepared;
    const label = `preprocessing a ${width}x${height} image (${((width * height * 4) / 2 ** 20).toFixed(1)} MiB as a GPU texture; scale it down if the GPU runs out of memory)`;
    return withGpuErrorScopes(device, label, async () => {
      const result = work();
      await device.queue.onSubmittedWorkDone();
      return result;
    });
  }
}
