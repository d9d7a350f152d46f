/**
 * Exported RT-DETR test packages (tools/rtdetr_parity_fixture.py): a small synthetic official-layout checkpoint
 * (r18vd backbone) exported through the exporter, with a seeded image and our PyTorch model's outputs (equal to
 * the official code's, tools/tests/test_rtdetr_model.py), cached in node_modules/.cache/webdetr-export.
 */
import { execFileSync } from 'node:child_process';
import type { ExportFixture } from './export-fixture.js';
import { EXPORT_CACHE } from './export-fixture.js';

export type RtdetrVariant = 'v1' | 'v2' | 'v2-discrete';

export interface RtdetrFixture extends ExportFixture {
  /** Max |official - ours| in PyTorch when a lyuwenyu/RT-DETR snapshot was present at export. */
  official_logits?: number;
  official_boxes?: number;
}

export const RTDETR_SMALL_SIZE = { height: 96, width: 128 } as const;

export function rtdetrFixture(
  variant: RtdetrVariant,
  options: { singleGraph?: boolean; size?: { height: number; width: number } } = {},
): RtdetrFixture {
  const size = options.size ?? RTDETR_SMALL_SIZE;
  const args = [
    'tools/rtdetr_parity_fixture.py',
    '--variant',
    variant,
    '--cache',
    EXPORT_CACHE,
    '--height',
    `${size.height}`,
    '--width',
    `${size.width}`,
  ];
  if (options.singleGraph !== true) args.push('--no-single-graph');
  const started = Date.now();
  const stdout = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  console.log(`rtdetr ${variant} ${args.slice(5).join(' ')}: package ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as RtdetrFixture;
}

// Pure (no Node imports), so the bench page can use it too.
export { compareQueries, RTDETR_TOLERANCE } from './compare-queries.js';
