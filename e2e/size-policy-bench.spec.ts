/**
 * Dynamic shapes vs size buckets on WebGPU (opt-in: WEBDETR_SIZE_BENCH=1; SwiftShader here, an emulator: compare
 * the two columns, not the absolute times). The packages of test/bench/size-policy-bench.test.ts
 * (tools/bench/size_policy_packages.py, run that first): the dynamic package runs two sizes in turn (first frame at a
 * size, a warm frame, the next size, back to the first), each fixed package ("bucket") its own size twice, all through
 * the GPU package runner with the image as a GPU buffer. Writes bench/results/<date>-<adapter>-size-policy-webgpu.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import type { PlannedCall, RunnerPageResult } from './pages/runtime-gpu-runner-page.js';

const ENABLED = process.env.WEBDETR_SIZE_BENCH === '1';
const DIR = '.cache/size-policy-bench';
const SIZES = ['85x64', '108x36'];
const url = (path: string) => `/${relative(process.cwd(), resolve(path))}`;

function inputFor(size: string): { url: string; dims: number[]; onGpu: boolean } {
  const [height, width] = size.split('x').map(Number) as [number, number];
  const data = new Float32Array(3 * height * width);
  let seed = 1;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    data[i] = (seed / 2 ** 31) * 4 - 2;
  }
  const path = `${DIR}/input-${size}.f32`;
  writeFileSync(path, Buffer.from(data.buffer));
  return { url: url(path), dims: [1, 3, height, width], onGpu: true };
}

test('dynamic shapes vs size buckets on WebGPU', async ({ browser }) => {
  test.skip(!ENABLED, 'opt-in: WEBDETR_SIZE_BENCH=1');
  test.setTimeout(1_800_000);
  const page = await browser.newPage();
  await page.route('**/e2e/pages/size-bench-shell.html', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><script type="module" src="/e2e/pages/runtime-gpu-runner-page.ts"></script>',
    }),
  );
  await page.goto('/e2e/pages/size-bench-shell.html');
  await page.waitForFunction(() => typeof window.runGpuRunnerPlan === 'function');
  const inputs = Object.fromEntries(SIZES.map((size) => [size, inputFor(size)]));
  const call = (size: string): PlannedCall => ({ pipeline: 'detect', inputs: { image: inputs[size] ?? { url: '', dims: [] } } });
  const run = (dir: string, calls: PlannedCall[]): Promise<RunnerPageResult> =>
    page.evaluate((plan) => window.runGpuRunnerPlan!(plan), { packageUrl: url(dir), pipelines: ['detect'], calls, cpu: false });
  const [a, b] = SIZES as [string, string];
  const dynamic = await run(`${DIR}/dynamic`, [call(a), call(a), call(b), call(b), call(a)]);
  const buckets = [];
  for (const size of SIZES) buckets.push({ size, result: await run(`${DIR}/fixed-${size}`, [call(size), call(size)]) });
  const ms = (r: RunnerPageResult) => r.gpu.map((c) => Math.round(c.ms));
  const result = {
    date: new Date().toISOString(),
    adapter: dynamic.adapter,
    dynamic: { createMs: Math.round(dynamic.createMs), calls: [a, a, b, b, a], ms: ms(dynamic) },
    buckets: buckets.map(({ size, result: r }) => ({ size, createMs: Math.round(r.createMs), ms: ms(r) })),
  };
  console.log(JSON.stringify(result));
  // same size, same outputs: the dynamic package's warm frame equals the bucket's
  const [dynamicA, bucketA] = [dynamic.gpu[1]?.outputs.pred_logits?.data ?? [], buckets[0]?.result.gpu[1]?.outputs.pred_logits?.data ?? []];
  expect(Math.max(...dynamicA.map((v, i) => Math.abs(v - (bucketA[i] ?? Number.NaN))))).toBeLessThanOrEqual(1e-3);
  mkdirSync('bench/results', { recursive: true });
  const adapter = String(dynamic.adapter.vendor ?? 'gpu').replace(/[^a-z0-9]+/gi, '-') || 'gpu';
  writeFileSync(`bench/results/${result.date.slice(0, 10)}-${adapter}-size-policy-webgpu.json`, `${JSON.stringify(result, null, 1)}\n`);
  await page.close();
});
