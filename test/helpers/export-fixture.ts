/**
 * Exported test packages with their expected outputs (tools/export_parity_fixture.py), cached in
 * node_modules/.cache/webdetr-export keyed by the exporter and model sources. The one way every Node
 * and browser test gets a package, so suites running at the same time share the same exports
 * (the script takes a per-package lock: a second caller waits for the first export, then reuses it).
 *
 * Expected outputs: at the default full size (the reference image's 384x512) the official PyTorch
 * outputs in ../shared/reference; at another size or for a derived config, our PyTorch reference
 * model's (equal to the official code, tools/tests/test_reference_forward.py).
 */
import { execFileSync } from 'node:child_process';

export const EXPORT_CACHE = 'node_modules/.cache/webdetr-export';

/** The input size of the small packages the browser tests share (SwiftShader WebGPU is slow). */
export const SMALL_SIZE = { height: 64, width: 96 } as const;

export interface ExportFixture {
  dir: string;
  image: string;
  expected_logits: string;
  expected_boxes: string;
  /** UP-DETR: the query patches tensor [1, K, 3, 128, 128] as raw float32. */
  patches?: string;
}

export interface ExportOptions {
  /** Export at this input size (default: the reference image's 384x512, official expected outputs). */
  size?: { height: number; width: number };
  /** Split graphs only (no `detect_single_graph` / single-graph pipeline). */
  noSingleGraph?: boolean;
  /** A configuration derived from the variant's args (tools/export_parity_fixture.py DERIVED). */
  derived?: string;
  /** fp16 weights (fp32 compute). */
  fp16?: boolean;
}

export function exportFixture(variant: string, options: ExportOptions = {}): ExportFixture {
  const args = ['tools/export_parity_fixture.py', '--variant', variant, '--cache', EXPORT_CACHE];
  if (options.size !== undefined) args.push('--height', `${options.size.height}`, '--width', `${options.size.width}`);
  if (options.noSingleGraph === true) args.push('--no-single-graph');
  if (options.derived !== undefined) args.push('--derived', options.derived);
  if (options.fp16 === true) args.push('--fp16');
  const started = Date.now();
  const stdout = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  console.log(
    `${[options.derived ?? variant, ...args.slice(5)].join(' ')}: package ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ExportFixture;
}

/** The shared small split-only package (64x96 unless `size`) the browser tests and Node parity tests use. */
export function smallFixture(variant: string, options: Pick<ExportOptions, 'derived' | 'size' | 'fp16'> = {}): ExportFixture {
  return exportFixture(variant, { size: SMALL_SIZE, ...options, noSingleGraph: true });
}

/**
 * Exporting a single graph (deformable attention as GridSample) takes ~2-4 min of CPU per package. npm
 * test checks the full-size single graph on plain Deformable-DETR (here and through the engine on WASM);
 * the two-stage one only with WEBDETR_TWO_STAGE_SINGLE_GRAPH=1, to keep CI's time.
 */
export const TWO_STAGE_SINGLE_GRAPH = process.env.WEBDETR_TWO_STAGE_SINGLE_GRAPH === '1';

/** The full-size two-stage package: split graphs, plus the single graph when TWO_STAGE_SINGLE_GRAPH. */
export function twoStageFixture(): ExportFixture {
  return exportFixture('deformable_two_stage', { noSingleGraph: !TWO_STAGE_SINGLE_GRAPH });
}
