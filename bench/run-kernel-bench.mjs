#!/usr/bin/env node
/**
 * `npm run bench:kernels`: our WGSL MSDeformAttn kernel vs the same operation as a plain ONNX graph
 * (GridSample per level) on onnxruntime-web's WebGPU EP, in one headless-chromium page, on one
 * GPUDevice. Writes bench/results/<date>-<adapter>-kernels.json and regenerates bench/RESULTS.md.
 *
 *   node bench/run-kernel-bench.mjs [--cases small-encoder,decoder,encoder] [--quick | --full]
 *                                   [--port 5195] [--no-write]
 *
 * Not a test: it asserts only that both sides agree numerically (max |diff| <= 1e-4) and that the
 * GPU reported no errors; the exit status is non-zero otherwise.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runOnBenchPage } from './bench-page.mjs';
import { renderResultsMarkdown } from './render-results.mjs';
import { adapterSlug } from './render-model-results.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: 'small-encoder,decoder,encoder' },
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.WEBDETR_BENCH_PORT ?? '5195' },
    'no-write': { type: 'boolean', default: false },
  },
});

// One ORT run of these graphs takes 0.5-7 minutes on SwiftShader (its ReduceSum and Transposes, see
// RESULTS.md), so the default keeps ~12 minutes: every case gets a first run of both sides (check +
// ORT per-op profile), timed rounds only where an ORT run is short. --full times more rounds;
// on a real GPU use --full.
const none = { minIterations: 0, maxIterations: 0, budgetMs: 0 };
const config = {
  cases: args.cases.split(','),
  // The first run of each side is untimed (it compiles ORT's pipelines), so no extra warmup.
  repeat: args.full
    ? { warmup: 0, minIterations: 3, maxIterations: 10, budgetMs: 300_000 }
    : { warmup: 0, minIterations: 2, maxIterations: 3, budgetMs: 60_000 },
  repeatByCase: args.full
    ? {}
    : args.quick
      ? { decoder: none, 'small-encoder': none, encoder: none }
      : { 'small-encoder': { minIterations: 1, maxIterations: 1 }, encoder: none },
  // The encoder-size fused graph alone takes minutes per ORT run: fused only (the headline), and
  // its first run is the timing, so it is not profiled (small-encoder has the same graph, profiled).
  kindsByCase: args.full ? {} : { encoder: ['fused'] },
  unprofiledCases: args.full ? [] : args.quick ? ['decoder', 'small-encoder', 'encoder'] : ['encoder'],
  oursPerRound: 3,
  copyBytes: 64 * 1024 * 1024,
  tolerance: 1e-4,
};

/** Which kernel was measured: the commit, and whether its files differ from it (hash of the shader). */
function kernelSource() {
  const git = (...a) => execFileSync('git', a, { cwd: repoRoot, encoding: 'utf8' }).trim();
  const files = ['shaders/ms_deform_attn.wgsl', 'src/kernels/ms-deform-attn.ts'];
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedChanges: git('status', '--porcelain', '--', ...files) !== '',
    shaderSha256: createHash('sha256')
      .update(readFileSync(join(repoRoot, files[0])))
      .digest('hex')
      .slice(0, 16),
  };
}

const started = Date.now();
const kernel = kernelSource();
const loadBefore = loadavg();
await runOnBenchPage(
  { repoRoot, port: Number(args.port), path: '/bench/kernels/index.html', ready: 'window.webdetrKernelBench !== undefined' },
  async ({ page, browser }) => {
    let ok = true;
    const measured = await page.evaluate((cfg) => window.webdetrKernelBench.run(cfg), config);

    const results = {
      date: new Date().toISOString(),
      chromiumVersion: browser.version(),
      kernel,
      host: { loadAverageBefore: loadBefore, loadAverageAfter: loadavg() },
      durationSeconds: (Date.now() - started) / 1000,
      note: 'SwiftShader = CPU emulation of a GPU, not GPU speed (when the adapter is SwiftShader).',
      ...measured,
    };
    const failedChecks = results.cases.filter((c) => !c.check.passed).map((c) => c.name);
    if (failedChecks.length > 0) {
      console.error(`numerical check FAILED for: ${failedChecks.join(', ')}`);
      ok = false;
    }
    if (results.uncapturedErrors.length > 0) {
      console.error(`uncaptured GPU errors: ${results.uncapturedErrors.join(' | ')}`);
      ok = false;
    }

    const slug = adapterSlug(results);
    const day = results.date.slice(0, 10);
    const json = `${JSON.stringify(results, null, 1)}\n`;
    if (args['no-write']) {
      console.log(json);
    } else {
      const resultsDir = join(repoRoot, 'bench', 'results');
      mkdirSync(resultsDir, { recursive: true });
      const jsonPath = join(resultsDir, `${day}-${slug}-kernels.json`);
      writeFileSync(jsonPath, json);
      const mdPath = join(repoRoot, 'bench', 'RESULTS.md');
      writeFileSync(mdPath, renderResultsMarkdown(results, relative(join(repoRoot, 'bench'), jsonPath)));
      console.log(`wrote ${relative(repoRoot, jsonPath)} and ${relative(repoRoot, mdPath)}`);
    }
    console.log(`done in ${results.durationSeconds.toFixed(0)} s`);
    return ok;
  },
);
