/**
 * Shorter-side test packages and their pictures (tools/aspect_parity_fixture.py), cached in
 * node_modules/.cache/webdetr-export keyed by the exporter and model sources; shared by the Node and
 * chromium aspect-ratio parity tests.
 */
import { execFileSync } from 'node:child_process';
import { EXPORT_CACHE } from './export-fixture';

export interface AspectPicture {
  name: string;
  /** Raw RGBA8 file in the package directory, width x height. */
  rgba: string;
  width: number;
  height: number;
  /** [height, width] after the official resize. */
  resized: [number, number];
  expected_logits: string;
  expected_boxes: string;
  /** The official post-processing's top 10: scores, labels, queries, corner boxes in the original picture's pixels. */
  top_scores: number[];
  top_labels: number[];
  top_queries: number[];
  top_boxes: number[][];
}

export interface AspectFixture {
  dir: string;
  pictures: AspectPicture[];
}

export function aspectFixture(config: 'plain' | 'two-stage-small'): AspectFixture {
  const args = ['tools/aspect_parity_fixture.py', '--config', config, '--cache', EXPORT_CACHE];
  const stdout = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as AspectFixture;
}
