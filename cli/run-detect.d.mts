import type { DetectArgs } from './args.mjs';

export type ModelArg = { kind: 'url'; url: string } | { kind: 'dir'; dir: string; file: string } | { kind: 'missing'; message: string };
export function resolveModelArg(model: string): ModelArg;
export function runDetect(
  args: DetectArgs,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream & { isTTY?: boolean } },
): Promise<number>;
