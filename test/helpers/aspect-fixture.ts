/**
 * Shorter-side test packages and their pictures (tools/aspect_parity_fixture.py), cached in
 * node_modules/.cache/webdetr-export keyed by the exporter and model sources; shared by the Node and
 * chromium aspect-ratio parity tests.
 */
import { execFileSync } from 'node:child_process';
import { EXPORT_CACHE } from './export-fixture';

/** The parity tolerances (max abs): logits and normalized boxes. */
export const ASPECT_TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
const TOLERANCE = ASPECT_TOLERANCE;

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

/** `policy`: the package's shorter side and longer-side limit (default the small CI policy, 64 / 107). */
export function aspectFixture(config: 'plain' | 'two-stage-small', policy = { shortest: 64, longest: 107 }): AspectFixture {
  const args = ['tools/aspect_parity_fixture.py', '--config', config, '--cache', EXPORT_CACHE];
  args.push('--shortest', `${policy.shortest}`, '--longest', `${policy.longest}`);
  const stdout = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as AspectFixture;
}

/**
 * Two-stage picks its queries with a top-k over the encoder's token scores: tokens whose scores are within
 * float noise may come out in either order, which swaps whole queries. Outputs are then compared as a set:
 * each expected query against the actual query nearest to it (logits and box together); `swapped` counts
 * the queries that matched another index.
 */
export function setDiff(
  actual: { logits: ArrayLike<number>; boxes: ArrayLike<number> },
  expected: { logits: ArrayLike<number>; boxes: ArrayLike<number> },
  classes: number,
): { logits: number; boxes: number; swapped: number } {
  const rowDiff = (a: ArrayLike<number>, b: ArrayLike<number>, width: number, p: number, q: number): number => {
    let max = 0;
    for (let i = 0; i < width; i++) max = Math.max(max, Math.abs((a[p * width + i] ?? 0) - (b[q * width + i] ?? Number.NaN)));
    return max;
  };
  const queries = expected.boxes.length / 4;
  const result = { logits: 0, boxes: 0, swapped: 0 };
  for (let q = 0; q < queries; q++) {
    let best = { index: q, logits: Number.POSITIVE_INFINITY, boxes: Number.POSITIVE_INFINITY };
    const score = (d: { logits: number; boxes: number }) => Math.max(d.logits / TOLERANCE.logits, d.boxes / TOLERANCE.boxes);
    for (let p = 0; p < queries; p++) {
      const candidate = {
        index: p,
        logits: rowDiff(actual.logits, expected.logits, classes, p, q),
        boxes: rowDiff(actual.boxes, expected.boxes, 4, p, q),
      };
      if (score(candidate) < score(best)) best = candidate;
    }
    if (best.index !== q) result.swapped++;
    result.logits = Math.max(result.logits, best.logits);
    result.boxes = Math.max(result.boxes, best.boxes);
  }
  return result;
}
