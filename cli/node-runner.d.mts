import type { CliRequest, CliResponse } from './core/cli-run.js';
import type { NodeRunHooks } from './node/run-node.js';

export type RunNode = (request: CliRequest, hooks?: NodeRunHooks) => Promise<CliResponse>;
export function loadNodeRunner(options?: {
  root?: string;
  mode?: 'vite' | 'dist';
}): Promise<{ mode: 'vite' | 'dist'; runNode: RunNode; close(): Promise<void> }>;
