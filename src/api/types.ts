/**
 * The public, typed surface of webdetr: what pages, the embed and the CLI pass in and get back.
 * Everything here is structured-clone friendly (it crosses the worker boundary).
 */
import type { ZoomSpec } from '../package/manifest.js';
import type { LoadProgressCallback } from '../package/progress.js';
import type { VideoWatch, WatchOptions } from './watch.js';

export type { VideoWatch, WatchFrame, WatchOptions, WatchPatches, WatchResult } from './watch.js';

/** Which engine ran a call. `webgpu` = our WGSL kernels + onnxruntime-web's WebGPU EP. */
export type BackendName = 'webgpu' | 'wasm';

/**
 * `auto` (default): WebGPU on a hardware adapter; WASM when WebGPU is missing or the adapter is a
 * CPU fallback (SwiftShader), which runs this workload far slower than WASM. `webgpu` forces WebGPU
 * (error if unavailable); `wasm` forces onnxruntime-web's WASM backend.
 */
export type BackendPreference = 'auto' | 'webgpu' | 'wasm';

/** Anything the browser can decode into pixels; a `<video>` gives its current frame. */
export type ImageInput =
  | ImageBitmap
  | HTMLImageElement
  | HTMLVideoElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame
  | ImageData
  | Blob;

export interface BoxRect {
  /** Left edge in source-image pixels. */
  x: number;
  /** Top edge in source-image pixels. */
  y: number;
  width: number;
  height: number;
}

export interface Detection {
  box: BoxRect;
  score: number;
  /** Human-readable class name from the model's manifest. */
  label: string;
  classId: number;
}

/**
 * Per-stage wall-clock milliseconds of one call. `backbone` / `encoder` / `decoder` split the model
 * where the package has separate graphs (split pipelines); a single-graph run (the WASM backend)
 * counts only towards `model`, which is always the sum of all model stages.
 */
export interface StageTimings {
  preprocess: number;
  backbone: number;
  encoder: number;
  decoder: number;
  model: number;
  postprocess: number;
  total: number;
  /** Every manifest stage that ran, in order (graph name or kernel stage name). */
  stages: { stage: string; kind: 'graph' | 'msDeformAttn' | 'msDeformAttnRt'; ms: number }[];
}

export interface BackendInfo {
  name: BackendName;
  /**
   * Adapter description for WebGPU ("SwiftShader (CPU emulation)", vendor/architecture), or on WASM the thread
   * count: "WASM (onnxruntime-web, 2 threads)", "WASM (onnxruntime-web, 1 thread: not cross-origin isolated)".
   */
  description: string;
  /** Why this backend was chosen, e.g. "WebGPU unavailable: navigator.gpu is undefined". */
  reason: string;
}

/** The model's raw outputs for one run (`raw: true`), row-major float32, dims as the manifest says. */
export interface RawOutputs {
  logits: Float32Array;
  logitsDims: number[];
  /** Normalized (cx, cy, w, h) per query. */
  boxes: Float32Array;
  boxesDims: number[];
}

export interface DetectionResult {
  detections: Detection[];
  /** Present when the call asked for `raw: true`. */
  raw?: RawOutputs;
  timings: StageTimings;
  backend: BackendInfo;
  /** Source image size the boxes refer to. */
  imageSize: { width: number; height: number };
}

export interface DetectOptions {
  /** Minimum score, 0..1 (default: the model's suggested `model.scoreThreshold`, else 0.5). */
  threshold?: number;
  /** At most this many detections, best first (default 100). */
  maxDetections?: number;
  /** Keep only these class names or ids. */
  classes?: ReadonlyArray<string | number>;
  /**
   * For video: drop this call if a newer `detect` with `replaceable: true` arrives while it is
   * still queued (it rejects with a `superseded` AbortError) instead of piling up frames.
   */
  replaceable?: boolean;
  /** Also return the model's raw per-query logits and boxes (parity checks, the CLI's --raw). */
  raw?: boolean;
  /**
   * detectWithPatches only: zoomed search for small patches (see ModelInfo.zoom). Default: on when the
   * package has it. `true` on a package without it is an InputError; `false` searches the whole image only.
   */
  zoom?: boolean;
}

/** A query patch for one-shot detection: a rectangle on the image, in source pixels. */
export type QueryPatch = BoxRect;

/**
 * Query patches described on one picture (`detector.describePatches`), to search other pictures and video
 * frames with (`detector.detectWithPatches(otherImage, descriptors)`). Plain data: structured-clone
 * friendly (postMessage, IndexedDB) and JSON-safe (the arrays may come back as number arrays). It names
 * the package that described it and carries a checksum: a set from another model, or a changed one, is
 * rejected with an InputError before anything runs.
 */
export interface PatchDescriptors {
  readonly format: 'webdetr-patch-descriptors-1';
  /** The describing package's identity (sha256 over its graphs' names and sha256s, family and variant). */
  readonly model: string;
  /** Values per patch. */
  readonly width: number;
  /** The picture the patches were described on. */
  readonly imageSize: { width: number; height: number };
  /** The patches as given (source pixels of that picture). */
  readonly patches: QueryPatch[];
  /** Each patch clipped to its picture, x0 y0 x1 y1 relative to it (0..1): K x 4. */
  readonly boxes: Float32Array | number[];
  /** K x width descriptor values. */
  readonly descriptors: Float32Array | number[];
  /** sha256 of everything above: catches damage and edits (not a signature). */
  readonly checksum: string;
}

export interface PatchDetections {
  patch: QueryPatch;
  detections: Detection[];
  /**
   * Views of the image searched for this patch: 1 (the whole image), or 1 + the zoom windows when the
   * patch was small enough for zoomed search.
   */
  views: number;
}

export interface OneShotResult {
  patches: PatchDetections[];
  timings: StageTimings;
  backend: BackendInfo;
  imageSize: { width: number; height: number };
  /** True when the image's encoder memory was reused (only patch branch + decoder ran). */
  reusedImageFeatures: boolean;
  /**
   * Raw outputs over the given patches' queries (patch k: queries k*G..k*G+G-1), when asked for with
   * `raw: true`: of the whole-image view (zoomed search's windows are not included).
   */
  raw?: RawOutputs;
}

/**
 * An image already sent to the worker (`detector.prepareImage`). Passing it instead of pixels lets
 * repeated one-shot queries on the same picture skip the upload and, on the GPU, the image encoder.
 */
export interface PreparedImage {
  readonly kind: 'prepared-image';
  readonly id: number;
  readonly width: number;
  readonly height: number;
}

/** What the loaded package is, from its manifest. */
export interface ModelInfo {
  family: 'deformable-detr' | 'up-detr' | 'rt-detr';
  variant: string;
  classNames: string[];
  /** A fixed-size package's input; a shorter-side package's bounds: height = shorter side, width = longer side at most. */
  inputSize: { width: number; height: number };
  /**
   * fixed: every picture is stretched to inputSize; shorter-side: the official Deformable-DETR resize, aspect ratio
   * kept (shorter side `shortest`, longer at most `longest`), the model runs at each picture's own size;
   * longerSide says how the longer side is rounded when `longest` caps it (manifest input.sizePolicy).
   */
  sizePolicy?: { kind: 'fixed' } | { kind: 'shorter-side'; shortest: number; longest: number; longerSide: 'official' | 'unrounded' };
  /** The package has the query-patch branch: `detectWithPatches` works. */
  oneShot: boolean;
  /** Plain detection (`detect`) works (false for an UP-DETR pretraining package, which needs patches). */
  detection: boolean;
  maxPatches: number;
  /**
   * Zoomed search (one-shot box packages that have it; on by default): a patch whose longer side is under
   * `below` of the image's also searches grid x grid overlapping windows of `side` of the image, each
   * stretched to the model input, so a small object is seen larger; the views' boxes are merged by NMS
   * at `nmsIou`. A zoomed query runs the image encoder grid * grid + 1 times: each window, then the
   * whole image again (so later large patches reuse it).
   */
  zoom?: ZoomSpec;
  /** The model's suggested minimum score (manifest `output.scoreThreshold`, else 0.5): the default `threshold`. */
  scoreThreshold: number;
  /** Bytes of graph files downloaded or read from cache for this backend. */
  downloadBytes: number;
  /**
   * Bytes of onnxruntime-web's WebAssembly runtime file (.wasm), which the page fetched once for all its
   * detectors; downloadBytes + runtimeBytes is the whole download of a first visit. 0 where the runtime
   * was not fetched by the page (Node).
   */
  runtimeBytes?: number;
}

/**
 * Memory the detector holds right now (`detector.stats()`), for leak checks and dashboards. GPU
 * counts cover objects created after the model loaded (the ledger starts then): a steady loop keeps
 * them flat once every image size and patch count has been seen.
 */
export interface DetectorStats {
  backend: BackendName;
  /** WebGPU only: buffers and textures created and not yet destroyed on the detector's device. */
  gpu?: {
    /** Ours: the runner's tensors and read-back buffers, kernel parameters, preprocess input buffers. */
    buffers: number;
    bufferBytes: number;
    /** Ours: the uploaded-image texture. */
    textures: number;
    textureBytes: number;
    /** onnxruntime-web's WebGPU EP (unlabeled buffers), allocated since the model loaded. */
    onnxruntimeBuffers: number;
    onnxruntimeBufferBytes: number;
    /** GPU errors the device reported outside any error scope since the model loaded (should stay 0). */
    uncapturedErrors: number;
  };
  /** onnxruntime InferenceSessions held (one per graph the backend loaded). */
  sessions: number;
  /** Images held in the worker: prepared ones (the newest few) and any in use by a call. */
  preparedImages: number;
  /** Size of onnxruntime-web's WebAssembly memory in the worker (grows, never shrinks). */
  wasmMemoryBytes?: number;
  /** The worker's JS heap from `performance.memory` (Chromium; coarse unless --enable-precise-memory-info); absent elsewhere. */
  workerJsHeap?: { usedBytes: number; totalBytes: number; source: 'performance.memory' };
}

export interface Detector {
  readonly backend: BackendInfo;
  readonly model: ModelInfo;
  detect(image: ImageInput | PreparedImage, options?: DetectOptions): Promise<DetectionResult>;
  /**
   * One-shot: per query patch (a rectangle on the image), the boxes that match it. With descriptors from
   * describePatches (of this or another picture) it searches this picture for those patches (no zoomed
   * search: they were pooled from their whole picture).
   */
  detectWithPatches(
    image: ImageInput | PreparedImage,
    patches: readonly QueryPatch[] | PatchDescriptors | readonly PatchDescriptors[],
    options?: DetectOptions,
  ): Promise<OneShotResult>;
  /**
   * Live video: detection (or, with `patches`, a one-shot search) on the frames of a `<video>` or a
   * MediaStream, paced by the video's frames, dropping frames while the model is busy. See WatchOptions.
   */
  watch(source: HTMLVideoElement | MediaStream, options: WatchOptions): Promise<VideoWatch>;
  /**
   * Describes query patches on `image` (one-shot packages with describe_patches, such as the shipped
   * one) as PatchDescriptors: keep them, store them, search other pictures with them.
   */
  describePatches(image: ImageInput | PreparedImage, patches: readonly QueryPatch[]): Promise<PatchDescriptors>;
  /** Sends the pixels to the worker once; see PreparedImage. The newest few are kept. */
  prepareImage(image: ImageInput): Promise<PreparedImage>;
  /** What the detector holds now: GPU buffers/bytes we own, sessions, images, WASM memory, worker heap. */
  stats(): Promise<DetectorStats>;
  /** Terminates the worker and releases every GPU buffer and session. Idempotent. */
  dispose(): Promise<void>;
}

export interface CreateDetectorOptions {
  /** URL of a model package's manifest.json (or its directory); the worker fetches and validates it. */
  model: string | URL;
  backend?: BackendPreference;
  onProgress?: LoadProgressCallback;
  /** Use the Cache API so a second visit loads offline (default true where available). */
  cache?: boolean;
  /**
   * URL of onnxruntime-web's `ort-wasm-simd-threaded.jsep.wasm` (same version as the installed
   * onnxruntime-web), e.g. on a CDN. Default: the file your bundler emitted from onnxruntime-web, or
   * for the script-tag build the onnxruntime-web installed beside webdetr (docs/install.md).
   */
  onnxruntimeWasm?: string | URL;
}
