#!/usr/bin/env node
/**
 * `npm test`: every suite, with one summary line at the end.
 *   1. system packages (installed when running as root, else the exact apt command is printed)
 *   2. lint (biome over TS/JS, flake8 + black over tools/; seconds) and typecheck (tsc, strict)
 *   3. Node unit tests (vitest; WGSL kernels on Dawn + SwiftShader)
 *   4. Python tool tests (pytest with /usr/bin/python3 and Debian's torch)
 *   5. Browser tests (Playwright in headless Debian chromium with WebGPU on SwiftShader)
 *   6. The consumer test: `npm pack`, installed offline in a throwaway project, used from TypeScript, a
 *      vite app, a script tag under a strict CSP and `npx webdetr` (e2e/consumer/)
 * Three lanes run at the same time (lint -> typecheck -> unit, browser, python -> consumer): each suite is mostly
 * single-threaded and spends minutes exporting test packages, so on two cores no core waits idle for
 * the slowest lane while another is done. Every output line carries its
 * suite's prefix, and each suite's full output is also in test-results/summary/<suite>.log. Suites
 * that need the same exported package share it (tools/export_parity_fixture.py locks per package).
 * Select suites with `npm test -- --only unit,python` (suites: lint, typecheck, unit, python, browser, consumer);
 * `--serial` runs them one after another.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensureSystemPackages, PYTHON, SWIFTSHADER_ICD } from './system-deps.mjs';
import { outcomeLines, playwrightOutcomes, pytestOutcomes, vitestOutcomes } from './test-report.mjs';

const args = process.argv.slice(2);
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',')) : null;
const serial = args.includes('--serial');
const wants = (suite) => !only || only.has(suite);

const resultsDir = 'test-results/summary';
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const env = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD };
// onnxruntime-web's WebGPU EP on SwiftShader takes minutes for a first frame with an R50 backbone even
// at 64x96 (mostly shader compilation), so npm test runs one whole R50 model on WebGPU through the GPU
// package runner (box refinement: 4-d reference points, both kernel layouts) and the shipped one-shot
// package (box patches pooled with GridSample, calibrated head; ~1 min), plus the GPU runner on the
// tiny package (e2e/faults.spec.ts) and the WGSL kernels at official sizes. The rest are opt-in:
// WEBDETR_GPU_RUNNER_VARIANTS=deformable_plain,deformable_refine,deformable_two_stage,updetr_pretrain,
// shipped_oneshot (~35 min), WEBDETR_E2E_API_WEBGPU=1.
env.WEBDETR_GPU_RUNNER_VARIANTS ??= 'deformable_refine,shipped_oneshot';

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

const SUITES = [
  {
    key: 'lint',
    lane: 0,
    name: 'lint (biome, flake8, black)',
    command: 'node',
    args: ['scripts/lint.mjs', '--json', `${resultsDir}/lint.json`],
    count: () => readJson(`${resultsDir}/lint.json`),
  },
  { key: 'typecheck', lane: 0, name: 'typecheck', command: 'npx', args: ['tsc', '--noEmit', '-p', 'tsconfig.json'] },
  {
    key: 'unit',
    lane: 0,
    name: 'unit (node, Dawn/SwiftShader)',
    command: 'npx',
    args: ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${resultsDir}/vitest.json`],
    // Test packages exported before the first test (test/global-setup.ts), outside test timeouts.
    env: { WEBDETR_E2E_EXPORT_FIRST: '1' },
    outcomes: () => vitestOutcomes(readJson(`${resultsDir}/vitest.json`)),
    count: () => {
      const report = readJson(`${resultsDir}/vitest.json`);
      if (!report) return null;
      return { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + (report.numTodoTests ?? 0) };
    },
  },
  {
    key: 'python',
    lane: 2,
    name: 'python tools (pytest)',
    command: PYTHON,
    args: ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${resultsDir}/pytest.xml`, 'tools/tests'],
    outcomes: () => {
      const out = `${resultsDir}/pytest.xml`;
      return pytestOutcomes(existsSync(out) ? readFileSync(out, 'utf8') : '');
    },
    count: () => {
      const out = `${resultsDir}/pytest.xml`;
      if (!existsSync(out)) return null;
      const xml = readFileSync(out, 'utf8');
      const attr = (name) => Number((xml.match(new RegExp(`<testsuite[^>]* ${name}="(\\d+)"`)) ?? [])[1] ?? 0);
      const tests = attr('tests');
      const failed = attr('failures') + attr('errors');
      const skipped = attr('skipped');
      return { passed: tests - failed - skipped, failed, skipped };
    },
  },
  {
    key: 'browser',
    lane: 1,
    name: 'browser (playwright, chromium WebGPU/SwiftShader)',
    command: 'npx',
    // Its own output folder: Playwright empties its output folder at start, and the other lane writes
    // test-results/summary meanwhile.
    args: ['playwright', 'test', '--reporter=list,json', '--output=test-results/playwright'],
    // Shared packages exported before the first test (e2e/global-setup.ts), outside test timeouts.
    env: { PLAYWRIGHT_JSON_OUTPUT_NAME: `${resultsDir}/playwright.json`, WEBDETR_E2E_EXPORT_FIRST: '1' },
    outcomes: () => playwrightOutcomes(readJson(`${resultsDir}/playwright.json`)),
    count: () => {
      const report = readJson(`${resultsDir}/playwright.json`);
      if (!report) return null;
      const s = report.stats;
      return { passed: s.expected + s.flaky, failed: s.unexpected, skipped: s.skipped };
    },
  },
  {
    key: 'consumer',
    lane: 2,
    name: 'consumer (npm pack -> a project that installs it; playwright)',
    command: 'npx',
    // e2e/consumer/: the packed package in a throwaway project (types, vite app, script tag, CLI); ~1 min.
    args: ['playwright', 'test', '-c', 'playwright.consumer.config.ts', '--reporter=list,json'],
    env: { PLAYWRIGHT_JSON_OUTPUT_NAME: `${resultsDir}/consumer.json` },
    outcomes: () => playwrightOutcomes(readJson(`${resultsDir}/consumer.json`)),
    count: () => {
      const report = readJson(`${resultsDir}/consumer.json`);
      if (!report) return null;
      const s = report.stats;
      return { passed: s.expected + s.flaky, failed: s.unexpected, skipped: s.skipped };
    },
  },
].filter((suite) => wants(suite.key));

/** Runs one suite, each output line prefixed on the console and written whole to its log file. */
function run(suite, prefix) {
  const started = Date.now();
  const log = createWriteStream(`${resultsDir}/${suite.key}.log`);
  const say = (line) => {
    log.write(`${line}\n`);
    console.log(prefix ? `[${suite.key}] ${line}` : line);
  };
  say(`=== ${suite.name}: ${suite.command} ${suite.args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(suite.command, suite.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ...suite.env } });
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) say(line);
      });
      stream.on('end', () => pending && say(pending));
    }
    const finish = (status) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const fallback = { passed: status === 0 ? 1 : 0, failed: status === 0 ? 0 : 1, skipped: 0 };
      const counts = (suite.count ? suite.count() : fallback) ?? { passed: 0, failed: 1, skipped: 0 };
      // A runner that crashed before reporting still counts as a failure.
      if (status !== 0 && counts.failed === 0) counts.failed = 1;
      say(`=== ${suite.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)`);
      log.end();
      resolve({ name: suite.name, seconds, ...counts, status });
    };
    child.on('error', (error) => {
      say(`failed to start: ${error.message}`);
      finish(null);
    });
    child.on('close', (status) => finish(status));
  });
}

if (!ensureSystemPackages()) process.exit(1);
if (!existsSync('node_modules')) {
  console.error('node_modules is missing: run `npm install` first.');
  process.exit(1);
}

const lanes = serial ? [SUITES] : [0, 1, 2].map((lane) => SUITES.filter((s) => s.lane === lane)).filter((lane) => lane.length > 0);
const prefix = lanes.length > 1;
const results = new Map();
await Promise.all(
  lanes.map(async (lane) => {
    for (const suite of lane) results.set(suite.key, await run(suite, prefix));
  }),
);

const suites = SUITES.map((suite) => results.get(suite.key));
const totals = { passed: 0, failed: 0, skipped: 0 };
for (const s of suites) for (const k of Object.keys(totals)) totals[k] += s[k];
console.log('\n=== summary');
for (const s of suites) console.log(`${s.name}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (${s.seconds} s)`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
// Named last, so the tail that CI keeps says which tests failed or skipped and why.
const outcomes = SUITES.filter((suite) => suite.outcomes).map((suite) => [suite.key, suite.outcomes()]);
for (const line of outcomeLines(outcomes)) console.log(line);
for (const suite of SUITES) {
  const { status } = results.get(suite.key);
  const named = outcomes.find(([key]) => key === suite.key)?.[1];
  if (status !== 0 && !named?.failed.length)
    console.log(`FAILED [${suite.key}] exited with status ${status}; see ${resultsDir}/${suite.key}.log`);
}
process.exit(totals.failed > 0 || suites.some((s) => s.status !== 0) ? 1 : 0);
