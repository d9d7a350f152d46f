import type { Detection } from '../src/api/types.js';
import type { LoadProgressEvent } from '../src/package/progress.js';
import type { CliResponse } from './page/cli-run.js';

export function detectionTable(detections: readonly Detection[], indent?: string): string[];
export function formatTable(response: CliResponse): string;
export function progressLine(event: LoadProgressEvent): string | undefined;
export function progressBar(event: LoadProgressEvent): string | undefined;
