/**
 * Model-loading progress, as a tagged union (transformers.js style): one `initiate` per file, any
 * number of `progress` events with byte counts, one `done` per file, then a single `ready`.
 */
export type LoadProgressEvent =
  | { status: 'initiate'; file: string; url: string; total: number }
  | { status: 'progress'; file: string; loaded: number; total: number }
  | { status: 'done'; file: string; total: number; fromCache: boolean }
  | { status: 'ready'; files: number; totalBytes: number };

export type LoadProgressCallback = (event: LoadProgressEvent) => void;
