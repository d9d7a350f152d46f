/** What the worker exposes over comlink (the page side wraps it into the public Detector). */
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
} from '../api/types.js';
import type { RunnerCounters } from '../runtime/runner.js';
import type { LoadProgressCallback } from '../package/progress.js';
import type { EnginePixels } from './image-store.js';

export interface WorkerLoadOptions {
  /** Absolute URL of the manifest or package directory. */
  model: string;
  backend: BackendPreference;
  cache: boolean;
  /** Absolute URL of onnxruntime's .wasm when the page names one (CreateDetectorOptions.onnxruntimeWasm). */
  runtimeUrl?: string;
}

export interface WorkerApi {
  /**
   * Takes the Web Lock `lockName` for the worker's lifetime (false where Web Locks are missing). The
   * page waits on the same lock: it is granted when the worker ends, even without an error event.
   */
  holdLiveness(lockName: string): Promise<boolean>;
  /**
   * `runtimeBinary(url)`: the page's copy of onnxruntime's .wasm at `url` (fetched once per page),
   * or undefined to let onnxruntime fetch it.
   */
  load(
    options: WorkerLoadOptions,
    onProgress?: LoadProgressCallback,
    runtimeBinary?: (url: string) => Promise<ArrayBuffer | undefined>,
  ): Promise<{ backend: BackendInfo; model: ModelInfo }>;
  prepareImage(pixels: EnginePixels): Promise<PreparedImage>;
  releaseImage(id: number): Promise<void>;
  detect(image: EnginePixels | number, options?: DetectOptions): Promise<DetectionResult>;
  detectWithPatches(
    image: EnginePixels | number,
    patches: readonly QueryPatch[] | PatchDescriptors | readonly PatchDescriptors[],
    options?: DetectOptions,
  ): Promise<OneShotResult>;
  describePatches(image: EnginePixels | number, patches: readonly QueryPatch[]): Promise<PatchDescriptors>;
  /** Graph and kernel runs so far (tests prove a one-shot re-query skipped the encoder). */
  counters(): Promise<RunnerCounters>;
  stats(): Promise<DetectorStats>;
  dispose(): Promise<void>;
}
