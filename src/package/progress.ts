/**
 * Model-loading progress, as a tagged union (transformers.js style): one `initiate` per file, any
 * number of `progress` events with byte counts, one `done` per file, then a single `ready`; then
 * `preparing` per step of getting the model to run and one `prepared`.
 */
export type LoadProgressEvent =
  | {
      status: 'initiate';
      file: string;
      url: string;
      /** This file's size in bytes. */
      total: number;
      /**
       * Where the file stands in a package load (set by the model loader; absent from a lone
       * fetchVerified): its 0-based position, how many files the load fetches, and their bytes in
       * all, so a progress bar knows the whole download without reading the manifest itself.
       */
      fileIndex?: number;
      fileCount?: number;
      totalBytes?: number;
    }
  | { status: 'progress'; file: string; loaded: number; total: number }
  | { status: 'done'; file: string; total: number; fromCache: boolean }
  | { status: 'ready'; files: number; totalBytes: number }
  /**
   * After `ready`: what the load waits for now that every byte is here, so a page can say so instead
   * of a silent "preparing": `runtime` (onnxruntime's WebAssembly compiled and started; on WASM it runs
   * while the graphs download, so it usually ends first), `sessions` (one onnxruntime session per
   * graph: parsing and optimizing it), `shaders` (WebGPU: our kernels' compute pipelines).
   */
  | { status: 'preparing'; step: PrepareStep; graphs?: number }
  /** The load is done; milliseconds each step took (for the record and the page's status line). */
  | { status: 'prepared'; ms: Partial<Record<PrepareStep, number>> };

export type PrepareStep = 'runtime' | 'sessions' | 'shaders';

export type LoadProgressCallback = (event: LoadProgressEvent) => void;
