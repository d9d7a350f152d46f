/**
 * Exported test packages with their PyTorch reference outputs (tools/export_parity_fixture.py),
 * cached in node_modules/.cache/webdetr-export keyed by the exporter and model sources.
 */
import { execFileSync } from 'node:child_process';

export const EXPORT_CACHE = 'node_modules/.cache/webdetr-export';

export interface ExportFixture {
  dir: string;
  image: string;
  expected_logits: string;
  expected_boxes: string;
  /** UP-DETR: the query patches tensor [1, K, 3, 128, 128] as raw float32. */
  patches?: string;
}

export function exportFixture(variant: string, options: string[] = []): ExportFixture {
  const started = Date.now();
  const stdout = execFileSync('/usr/bin/python3', ['tools/export_parity_fixture.py', '--variant', variant, '--cache', EXPORT_CACHE, ...options], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  console.log(`${variant} ${options.join(' ')}: package ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ExportFixture;
}
