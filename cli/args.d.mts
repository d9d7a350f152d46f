import type { BackendPreference, QueryPatch } from '../src/api/types.js';

export interface DetectArgs {
  help: false;
  command: 'detect';
  images: string[];
  model: string;
  patches: QueryPatch[];
  /** --patches-file: JSON {"<image as given>": [[x0, y0, x1, y1], ...]}, read by runDetect. */
  patchesFile?: string;
  /** Absent: the model's suggested score (manifest output.scoreThreshold), else 0.5. */
  threshold?: number;
  maxDetections: number;
  /** --no-zoom: false; absent: the package's default (zoomed search when it has one). */
  zoom?: false;
  backend: BackendPreference;
  raw: boolean;
  /** Also true with --raw (without --jsonl). */
  json: boolean;
  /** One JSON object per image, as it finishes. */
  jsonl: boolean;
  port: number;
  chromium: string;
  timeoutMs: number;
}

export type CliArgs = { help: true } | DetectArgs;

export const USAGE: string;
export class UsageError extends Error {}
export function parseCliArgs(argv: readonly string[]): CliArgs;
export function parsePatch(text: string): QueryPatch;
export function parsePatchesFile(text: string, images: readonly string[]): QueryPatch[][];
