import type { Detection } from '../src/api/types.js';
import type { LoadProgressEvent } from '../src/package/progress.js';
import type { CliBest, CliImageOutcome, CliLoaded, CliResponse } from './core/cli-run.js';

export function cliWords(text: string): string;
export function detectionTable(detections: readonly Detection[], indent?: string, none?: { threshold?: number; best?: CliBest }): string[];
export function formatHeader(loaded: CliLoaded): string;
export function formatResult(outcome: CliImageOutcome, threshold?: number): string;
export function formatTable(response: CliResponse): string;
export function progressLine(event: LoadProgressEvent): string | undefined;
export function progressBar(event: LoadProgressEvent): string | undefined;
export function batchProgress(done: number, total: number, failed: number, elapsedMs: number, current?: string): string;
