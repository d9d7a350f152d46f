/**
 * Model-loading progress, as a tagged union (transformers.js style): one `initiate` per file, any
 * number of `progress` events with byte counts, one `done` per file, then a single `ready`.
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
  | { status: 'ready'; files: number; totalBytes: number };

export type LoadProgressCallback = (event: LoadProgressEvent) => void;
