#!/usr/bin/env node
/**
 * `npm test`: every suite, in order, with one summary line at the end.
 *   1. system packages (installed when running as root, else the exact apt command is printed)
 *   2. typecheck (tsc, strict)
 *   3. Node unit tests (vitest; WGSL kernels on Dawn + SwiftShader)
 *   4. Python tool tests (pytest with /usr/bin/python3 and Debian's torch)
 *   5. Browser tests (Playwright in headless Debian chromium with WebGPU on SwiftShader)
 * Select suites with `npm test -- --only unit,python`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensureSystemPackages, PYTHON, SWIFTSHADER_ICD } from './system-deps.mjs';

const args = process.argv.slice(2);
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',')) : null;
const wants = (suite) => !only || only.has(suite);

const resultsDir = 'test-results/summary';
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const env = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD };
// onnxruntime-web's WebGPU EP on SwiftShader takes 100-280 s a frame even at 64x96, so the suite runs
// the GPU package runner on one variant (box refinement; the API specs run plain single-scale and
// UP-DETR on WebGPU too). WEBDETR_GPU_RUNNER_VARIANTS=deformable_plain,deformable_refine,
// deformable_two_stage,updetr_pretrain runs them all (~25 min).
env.WEBDETR_GPU_RUNNER_VARIANTS ??= 'deformable_refine';
const totals = { passed: 0, failed: 0, skipped: 0 };
const suites = [];

function run(name, command, commandArgs, count) {
  const started = Date.now();
  console.log(`\n=== ${name}: ${command} ${commandArgs.join(' ')}`);
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const counts = count ? count() : { passed: result.status === 0 ? 1 : 0, failed: result.status === 0 ? 0 : 1, skipped: 0 };
  // A runner that crashed before reporting still counts as a failure.
  if (result.status !== 0 && counts.failed === 0) counts.failed = 1;
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  suites.push({ name, seconds, ...counts, status: result.status });
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

if (!ensureSystemPackages()) process.exit(1);
if (!existsSync('node_modules')) {
  console.error('node_modules is missing: run `npm install` first.');
  process.exit(1);
}

if (wants('typecheck')) run('typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']);

if (wants('unit')) {
  const out = `${resultsDir}/vitest.json`;
  run('unit (node, Dawn/SwiftShader)', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`], () => {
    const report = readJson(out);
    if (!report) return { passed: 0, failed: 1, skipped: 0 };
    return { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + (report.numTodoTests ?? 0) };
  });
}

if (wants('python')) {
  const out = `${resultsDir}/pytest.xml`;
  run('python tools (pytest)', PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${out}`, 'tools/tests'], () => {
    if (!existsSync(out)) return { passed: 0, failed: 1, skipped: 0 };
    const xml = readFileSync(out, 'utf8');
    const attr = (name) => Number((xml.match(new RegExp(`<testsuite[^>]* ${name}="(\\d+)"`)) ?? [])[1] ?? 0);
    const tests = attr('tests');
    const failed = attr('failures') + attr('errors');
    const skipped = attr('skipped');
    return { passed: tests - failed - skipped, failed, skipped };
  });
}

if (wants('browser')) {
  const out = `${resultsDir}/playwright.json`;
  env.PLAYWRIGHT_JSON_OUTPUT_NAME = out;
  run('browser (playwright, chromium WebGPU/SwiftShader)', 'npx', ['playwright', 'test', '--reporter=list,json'], () => {
    const report = readJson(out);
    if (!report) return { passed: 0, failed: 1, skipped: 0 };
    const s = report.stats;
    return { passed: s.expected + s.flaky, failed: s.unexpected, skipped: s.skipped };
  });
}

console.log('\n=== summary');
for (const s of suites) console.log(`${s.name}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (${s.seconds} s)`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 || suites.some((s) => s.status !== 0) ? 1 : 0);
