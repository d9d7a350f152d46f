#!/usr/bin/env node
/**
 * `npm run bench`: the full-model benchmark. In one headless-chromium page, per model package:
 * (a) our split pipeline on WebGPU (ORT WebGPU graphs + our WGSL deformable attention), (b) the
 * single-graph export on ORT WebGPU (GridSample), (c) the single graph on ORT WASM, (d) our split
 * pipeline on ORT WASM with our WebAssembly kernel; cold start, warm frames, per-stage medians, one-shot
 * re-query, peak GPU bytes, download bytes; plus scaling with input size and patch count. --pytorch adds the
 * PyTorch CPU frame of the same checkpoint at the page's WASM thread count (tools/bench/pytorch_frame.py).
 * Writes bench/results/<date>-<adapter>-models.json, bench/MODELS.md (table) and
 * bench/results/<date>-<adapter>-models.svg (chart), and bench/README.md's latest-run section. --page NAME
 * writes bench/NAME.md and bench/results/<date>-<adapter>-<name>.* instead and leaves MODELS.md and
 * bench/README.md alone (a run of some models only, e.g. the official variants or --variants).
 *
 *   node bench/run-model-bench.mjs [--quick] [--official [--official-variants plain,refine,two-stage]] [--only detector-320,oneshot-k10]
 *                                  [--variants single-wasm,split-wasm] [--pytorch] [--rtdetr]
 *                                  [--port 5196] [--no-write] [--no-export] [--sizes 256,320,416,512] [--page MODELS]
 *
 * --rtdetr adds rtdetr-r18vd-640: the official rtdetrv2_r18vd architecture with synthetic weights at 640x640
 * (tools/rtdetr_parity_fixture.py --variant v2-r18vd-coco, cached under node_modules/.cache/webdetr-export), run on
 * the fixture's own input tensor and compared with its PyTorch outputs (queries as a set on a top-k tie); one cold
 * and 2 warm frames on WebGPU (minutes each on SwiftShader), 5 warm on WASM.
 *
 * Packages come from .cache/bench-models (tools/build_models.py --bench-out, run here first unless
 * --no-export): the shipped checkpoints exported WITH the single graph; public/models is untouched.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuCount, headCommit, hostLoad, runOnBenchPage } from './bench-page.mjs';
import { MAIN_PAGE, writeModelPages } from './render-model-results.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    official: { type: 'boolean', default: false },
    'official-variants': { type: 'string' },
    only: { type: 'string' },
    port: { type: 'string', default: process.env.WEBDETR_BENCH_PORT ?? '5196' },
    'no-write': { type: 'boolean', default: false },
    'no-export': { type: 'boolean', default: false },
    sizes: { type: 'string' },
    page: { type: 'string', default: MAIN_PAGE },
    variants: { type: 'string' },
    pytorch: { type: 'boolean', default: false },
    rtdetr: { type: 'boolean', default: false },
  },
});
if (!/^[A-Za-z0-9_-]+$/.test(args.page)) throw new Error(`--page wants a file name (letters, digits, - and _), got ${args.page}`);

const BENCH_DIR = '.cache/bench-models';
const quick = args.quick;
// --official: the official-format R50 variants (synthetic weights of ../shared/reference) at 256x352 and 384x512.
const OFFICIAL_VARIANTS = ['plain', 'refine', 'two-stage'];
const officialVariants = args['official-variants'] !== undefined ? args['official-variants'].split(',') : OFFICIAL_VARIANTS;
if (!officialVariants.every((v) => OFFICIAL_VARIANTS.includes(v)))
  throw new Error(`--official-variants takes ${OFFICIAL_VARIANTS.join(',')}, got ${args['official-variants']}`);
// --sizes overrides the detector's input sizes (e.g. --quick --sizes 512 --only detector-512 --no-write).
const sizes = args.sizes !== undefined ? args.sizes.split(',').map(Number) : quick ? [256, 320, 416] : [256, 320, 416, 512];
if (!sizes.every((s) => Number.isInteger(s) && s > 0 && s % 32 === 0)) throw new Error(`--sizes wants multiples of 32, got ${args.sizes}`);
const patchSlots = quick ? [1, 5, 10] : [1, 2, 5, 10];
const detectorImage = '/samples/astronaut.jpg';
const oneshotImage = '/samples/coffee.jpg';
// The parity patches of tools/build_models.py (source pixels).
const oneshotPatches = [
  { x: 110, y: 60, width: 150, height: 140 },
  { x: 20, y: 200, width: 90, height: 80 },
];
const VARIANTS = ['split-webgpu', 'single-webgpu', 'single-wasm', 'split-wasm'];
// --variants keeps some implementations only (e.g. the CPU path, (c) and (d), in minutes instead of an hour).
const chosen = args.variants !== undefined ? args.variants.split(',') : VARIANTS;
if (!chosen.every((v) => VARIANTS.includes(v))) throw new Error(`--variants takes ${VARIANTS.join(',')}, got ${args.variants}`);
const all = VARIANTS.filter((v) => chosen.includes(v));
// On SwiftShader one WebGPU frame of these models takes minutes (2026-11-23, loaded 2-core machine:
// split 320x320 detector cold 281 s, warm 163 s), so --quick keeps one warm WebGPU frame of (a)/(b)
// per main model and times the scaling points without (b). Rounds per variant = a warm median of N;
// the budget stops adding rounds after the first.
const mainRounds = quick
  ? { 'split-webgpu': 2, 'single-webgpu': 1, 'single-wasm': 5, 'split-wasm': 5 }
  : { 'split-webgpu': 5, 'single-webgpu': 3, 'single-wasm': 7, 'split-wasm': 7 };
const scaleRounds = quick
  ? { 'split-webgpu': 1, 'single-webgpu': 1, 'single-wasm': 3, 'split-wasm': 3 }
  : { 'split-webgpu': 3, 'single-webgpu': 2, 'single-wasm': 5, 'split-wasm': 5 };
const scaleVariants = quick ? all.filter((v) => v !== 'single-webgpu') : all;
const budgetMs = quick ? 120_000 : 600_000;
const requeryRounds = quick ? 2 : 5;

function models() {
  // Most important first: results are written after each model, so a run cut short keeps them.
  const list = [
    { id: 'detector-320', role: 'main', image: detectorImage, variants: all, rounds: mainRounds, profile: true },
    { id: 'oneshot-k10', role: 'main', image: oneshotImage, patches: oneshotPatches, variants: all, rounds: mainRounds, profile: true },
    ...patchSlots
      .filter((k) => k !== 10)
      .map((k) => ({
        id: `oneshot-k${k}`,
        role: 'patch-scaling',
        image: oneshotImage,
        patches: oneshotPatches,
        variants: scaleVariants,
        rounds: scaleRounds,
        profile: false,
      })),
    ...sizes
      .filter((s) => s !== 320)
      .map((s) => ({
        id: `detector-${s}`,
        role: 'size-scaling',
        image: detectorImage,
        variants: scaleVariants,
        rounds: scaleRounds,
        profile: false,
      })),
  ];
  if (args.official) {
    for (const variant of officialVariants) {
      for (const [h, w] of [
        [256, 352],
        [384, 512],
      ]) {
        list.push({
          id: `official-${variant}-${h}x${w}`,
          role: 'official',
          officialVariant: variant,
          height: h,
          width: w,
          image: detectorImage,
          variants: all,
          rounds: { 'split-webgpu': 1, 'single-webgpu': 1, 'single-wasm': 1, 'split-wasm': 1 },
          profile: false,
        });
      }
    }
  }
  if (args.rtdetr) {
    list.push({
      id: 'rtdetr-r18vd-640',
      role: 'rtdetr',
      image: detectorImage,
      variants: all,
      rounds: { 'split-webgpu': 2, 'single-webgpu': 2, 'single-wasm': 5, 'split-wasm': 5 },
      budgetMs: 3_600_000,
      profile: false,
    });
  }
  const only = args.only?.split(',');
  return list
    .filter((m) => only === undefined || only.includes(m.id))
    .map((m) => ({ packageUrl: `/${BENCH_DIR}/${m.id}`, budgetMs, requeryRounds, ...m }));
}

function exportPackages(list) {
  const detectorSizes = list.flatMap((m) => (m.id.startsWith('detector-') ? [m.id.slice('detector-'.length)] : []));
  const slots = list.flatMap((m) => (m.id.startsWith('oneshot-k') ? [m.id.slice('oneshot-k'.length)] : []));
  const py = (...a) =>
    execFileSync('/usr/bin/python3', ['tools/build_models.py', '--bench-out', BENCH_DIR, ...a], { cwd: repoRoot, stdio: 'inherit' });
  if (detectorSizes.length > 0) py('--only', 'detector', '--sizes', detectorSizes.join(','));
  if (slots.length > 0) py('--only', 'oneshot', '--patch-slots', slots.join(','));
  for (const m of list.filter((m) => m.role === 'official')) {
    // Official R50 Deformable-DETR layout, synthetic weights (shared reference args), single graph included.
    const out = execFileSync(
      '/usr/bin/python3',
      [
        'tools/export_parity_fixture.py',
        '--variant',
        `deformable_${m.officialVariant.replace('-', '_')}`,
        '--cache',
        `${BENCH_DIR}/official`,
        '--height',
        String(m.height),
        '--width',
        String(m.width),
      ],
      { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    m.packageUrl = `/${relative(repoRoot, JSON.parse(out.trim().split('\n').pop()).dir)}`;
  }
  // RT-DETR: the parity fixture's package, input tensor and PyTorch outputs (exported once, then cached).
  for (const m of list.filter((m) => m.role === 'rtdetr')) {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        'tools/rtdetr_parity_fixture.py',
        '--variant',
        'v2-r18vd-coco',
        '--cache',
        'node_modules/.cache/webdetr-export',
        '--height',
        '640',
        '--width',
        '640',
      ],
      { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const fixture = JSON.parse(out.trim().split('\n').pop());
    const url = (path) => `/${relative(repoRoot, path)}`;
    m.packageUrl = url(fixture.dir);
    m.imageTensorUrl = url(fixture.image);
    m.reference = { pred_logits: readNpyFloat32(fixture.expected_logits), pred_boxes: readNpyFloat32(fixture.expected_boxes), classes: 80 };
    m.fixture = { variant: 'v2-r18vd-coco', officialVsOurs: { logits: fixture.official_logits, boxes: fixture.official_boxes } };
  }
}

/** A little-endian float32 .npy file's values as a plain array (to hand to the page). */
function readNpyFloat32(path) {
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(`${path}: not a C-order float32 .npy`);
  const data = bytes.subarray(10 + headerLength);
  return Array.from(new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
}

const started = Date.now();
const list = models();
if (!args['no-export']) exportPackages(list);
else exportPackages(list.filter((m) => m.role === 'rtdetr' || m.role === 'official')); // cached fixtures only: their directories (hashed) and inputs
const commit = headCommit(repoRoot);
const loadBefore = hostLoad();
await runOnBenchPage(
  { repoRoot, port: Number(args.port), path: '/bench/models/index.html', ready: 'window.webdetrModelBench !== undefined' },
  async ({ page, browser }) => {
    let ok = true;
    const environment = await page.evaluate(() => window.webdetrModelBench.init());
    const results = {
      date: new Date().toISOString(),
      commit,
      chromiumVersion: browser.version(),
      quick,
      host: { before: loadBefore, after: undefined, cpus: cpuCount() },
      durationSeconds: 0,
      environment,
      planned: list.map((m) => m.id),
      models: [],
      uncapturedErrors: [],
    };
    // One model per evaluate, results written after each: a run cut short still leaves what it measured.
    for (const spec of list) {
      try {
        const { uncapturedErrors, ...model } = await page.evaluate((s) => window.webdetrModelBench.runModel(s), spec);
        if (spec.fixture !== undefined) model.fixture = spec.fixture;
        if (args.pytorch) model.pytorchCpu = pytorchFrame(spec.id, environment.wasmThreads);
        results.models.push(model);
        results.uncapturedErrors.push(...uncapturedErrors);
      } catch (error) {
        // e.g. a package not exported: record it and go on with the next one.
        console.error(`${spec.id}: ${error.message}`);
        results.failed = [...(results.failed ?? []), { id: spec.id, error: error.message }];
        ok = false;
      }
      results.host.after = hostLoad();
      results.durationSeconds = (Date.now() - started) / 1000;
      write(results);
    }
    if (results.uncapturedErrors.length > 0) {
      console.error(`uncaptured GPU errors: ${results.uncapturedErrors.join(' | ')}`);
      ok = false;
    }
    console.log(`done in ${results.durationSeconds.toFixed(0)} s`);
    return ok;
  },
);

/** PyTorch's CPU frame of the same checkpoint at the same thread count, or undefined for models it has none of. */
function pytorchFrame(id, threads) {
  try {
    const out = execFileSync('/usr/bin/python3', ['tools/bench/pytorch_frame.py', '--model', id, '--threads', String(threads)], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: join(repoRoot, 'tools') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.trim().split('\n').pop());
  } catch (error) {
    console.error(`${id}: no PyTorch frame (${error.message.split('\n')[0]})`);
    return undefined;
  }
}

function write(results) {
  if (args['no-write']) {
    console.log(`${JSON.stringify(results, null, 1)}\n`);
    return;
  }
  console.log(`wrote ${writeModelPages(repoRoot, results, { page: args.page }).join(', ')}`);
}
