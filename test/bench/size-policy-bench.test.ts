/**
 * Dynamic shapes vs size buckets, measured (opt-in: WEBDETR_SIZE_BENCH=1; writes bench/results/<date>-node-wasm-size-policy.json
 * and bench/SIZE-POLICY.md). One synthetic two-stage checkpoint (R50, 2+2 layers, 40 queries;
 * tools/bench/size_policy_packages.py) exported once with dynamic shapes (shorter side 64, longer <= 107) and once per
 * bucket as a fixed package at exactly that size: a bucket's best case (the picture is exactly the bucket's size,
 * no stretch, no padding). Both run in Node on onnxruntime-web's wasm backend + our WASM kernel, same inputs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import type { PackageRunner } from '../../src/runtime/runner';
import { maxAbsDiff } from '../export/npy';
import { readPackageGraphs } from '../helpers/package-graphs';

const ENABLED = process.env.WEBDETR_SIZE_BENCH === '1';
/** The five aspect-ratio pictures' sizes under shorter side 64, longer <= 107 (HxW). */
const SIZES = ['85x64', '60x106', '64x64', '108x36', '64x85'];
const REPEATS = 5;

async function runnerFor(dir: string): Promise<{ runner: PackageRunner; createMs: number; bytes: number }> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const started = performance.now();
  const runner = await createCpuPackageRunner({
    manifest,
    graphs: await readPackageGraphs(dir, manifest, ['detect']),
    pipelines: ['detect'],
  });
  return { runner, createMs: performance.now() - started, bytes: manifest.graphs.reduce((sum, g) => sum + g.bytes, 0) };
}

function image(height: number, width: number): { data: Float32Array; dims: number[] } {
  const data = new Float32Array(3 * height * width);
  let seed = 1;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    data[i] = (seed / 2 ** 31) * 4 - 2;
  }
  return { data, dims: [1, 3, height, width] };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

describe.skipIf(!ENABLED)('dynamic shapes vs size buckets (Node, WASM)', () => {
  it('times both on the same pictures', async () => {
    const stdout = execFileSync(
      '/usr/bin/python3',
      ['-m', 'bench.size_policy_packages', '--out', '../.cache/size-policy-bench', '--sizes', SIZES.join(',')],
      { cwd: 'tools', encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const packages = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { dynamic: string; fixed: Record<string, string> };
    const dynamic = await runnerFor(join('tools', packages.dynamic));
    const rows: Record<string, unknown>[] = [];
    let bucketBytes = 0;
    let bucketCreateMs = 0;
    try {
      for (const size of SIZES) {
        const [height, width] = size.split('x').map(Number) as [number, number];
        const input = { image: image(height, width) };
        const bucket = await runnerFor(join('tools', packages.fixed[size] ?? ''));
        bucketBytes += bucket.bytes;
        bucketCreateMs += bucket.createMs;
        try {
          // First run at a new size (dynamic: ORT re-plans shapes; bucket: its first run) then warm runs, alternating.
          let t = performance.now();
          const first = await dynamic.runner.run('detect', input);
          const dynamicFirst = performance.now() - t;
          t = performance.now();
          const reference = await bucket.runner.run('detect', input);
          const bucketFirst = performance.now() - t;
          const dynamicMs: number[] = [];
          const bucketMs: number[] = [];
          for (let i = 0; i < REPEATS; i++) {
            t = performance.now();
            await dynamic.runner.run('detect', input);
            dynamicMs.push(performance.now() - t);
            t = performance.now();
            await bucket.runner.run('detect', input);
            bucketMs.push(performance.now() - t);
          }
          const diff = maxAbsDiff(first.outputs.pred_logits?.data ?? [], reference.outputs.pred_logits?.data ?? []);
          expect(diff).toBeLessThanOrEqual(1e-4);
          const row = {
            size,
            dynamicFirstMs: dynamicFirst,
            bucketFirstMs: bucketFirst,
            dynamicMedianMs: median(dynamicMs),
            bucketMedianMs: median(bucketMs),
            ratio: median(dynamicMs) / median(bucketMs),
            maxLogitsDiff: diff,
          };
          console.log(JSON.stringify(row));
          rows.push(row);
        } finally {
          await bucket.runner.dispose();
        }
      }
    } finally {
      await dynamic.runner.dispose();
    }
    const result = {
      date: new Date().toISOString(),
      backend: 'Node, onnxruntime-web wasm + WASM kernel',
      model: 'two-stage + box refine, R50, 2+2 layers, 40 queries (synthetic weights)',
      policy: 'shorter side 64, longer <= 107',
      repeats: REPEATS,
      dynamic: { packages: 1, bytes: dynamic.bytes, createMs: dynamic.createMs },
      buckets: { packages: SIZES.length, bytes: bucketBytes, createMs: bucketCreateMs },
      rows,
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/${result.date.slice(0, 10)}-node-wasm-size-policy.json`, `${JSON.stringify(result, null, 1)}\n`);
  }, 1_800_000);
});
