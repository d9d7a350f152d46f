/**
 * Soak: a long mixed loop of detect / detectWithPatches calls through the public API on the tiny test
 * package (e2e/pages/soak-page.ts), WebGPU (SwiftShader) then a shorter WASM pass, with memory read
 * through detector.stats() after a forced GC. After warm-up (two schedule periods: every image size,
 * patch count and pipeline seen) the GPU buffers/textures we own and onnxruntime's, their bytes, the
 * sessions, the held images and the WASM memory must be exactly flat; the worker's JS heap may move
 * only within HEAP_BOUND_BYTES (GC noise). Outputs must be deterministic across periods and no
 * uncaptured GPU error may occur. Zoomed search gets its own short loop on a tiny one-shot package
 * (tools/fixtures/tiny_oneshot_package.py): WebGPU (window crops by our kernel) equals WASM, and memory
 * is flat round to round.
 *
 *   WEBDETR_SOAK_FRAMES=1000 (npm run soak) — default 100 WebGPU frames (+ 75 WASM) for CI.
 * Samples go to test-results/soak/<backend>.json; a summary is printed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { openShellPage } from './shell-page.js';
import { chromiumWebGpuArgs } from '../cli/chromium-flags.mjs';
import type { SoakResult, SoakSample, ZoomSoakResult } from './pages/soak-page.js';

const TINY = '/test/fixtures/packages/tiny';
/** A one-shot package with box patches and zoomed search (tools/fixtures/tiny_oneshot_package.py). */
const TINY_ONESHOT = '/test/fixtures/packages/tiny-oneshot';
const PERIOD = 25;
const FRAMES = roundToPeriod(Number(process.env.WEBDETR_SOAK_FRAMES ?? 100));
const WASM_FRAMES = roundToPeriod(Number(process.env.WEBDETR_SOAK_WASM_FRAMES ?? Math.min(FRAMES, 75)));
const SAMPLE_EVERY = FRAMES >= 1000 ? 100 : PERIOD;
const WARMUP_FRAMES = 2 * PERIOD;
/** JS heap growth allowed after warm-up, after a forced GC (measured: see docs/api.md, soak). */
const HEAP_BOUND_BYTES = 1 << 20;
/** WEBDETR_SOAK_VERBOSE=1 logs every call's time. */
const VERBOSE = process.env.WEBDETR_SOAK_VERBOSE === '1';

function roundToPeriod(frames: number): number {
  return Math.max(3 * PERIOD, Math.round(frames / PERIOD) * PERIOD);
}

test.use({
  launchOptions: {
    executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
    // gc() in the page and workers; exact (not bucketed) performance.memory.
    args: [...chromiumWebGpuArgs, '--js-flags=--expose-gc', '--enable-precise-memory-info'],
  },
});

let page: Page;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  page = await openShellPage(browser, 'soak-page', 'soak');
});
test.afterAll(async () => page.close());

const mib = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : `${(bytes / 2 ** 20).toFixed(2)} MiB`);

function summarize(result: SoakResult): string {
  const first = result.samples[0];
  const afterWarmup = result.samples.find((s) => s.frame >= WARMUP_FRAMES);
  const last = result.samples.at(-1);
  const gpu = (s: SoakSample | undefined) =>
    s?.stats.gpu
      ? `${s.stats.gpu.buffers} buffers ${s.stats.gpu.bufferBytes} B + ${s.stats.gpu.textures} textures ${s.stats.gpu.textureBytes} B, ort ${s.stats.gpu.onnxruntimeBuffers} buffers ${s.stats.gpu.onnxruntimeBufferBytes} B`
      : 'no GPU';
  const steady = result.samples.filter((s) => s.frame > WARMUP_FRAMES);
  const msPerFrame = steady.length === 0 ? 0 : steady.reduce((sum, s) => sum + s.msPerFrame, 0) / steady.length;
  return [
    `soak ${result.backend} (${result.description}): ${result.frames} frames in ${(result.durationMs / 1000).toFixed(1)} s, ${msPerFrame.toFixed(1)} ms/frame after warm-up; calls ${JSON.stringify(result.callsByKind)}`,
    `  GPU at load ${gpu(first)} | after warm-up (frame ${afterWarmup?.frame}) ${gpu(afterWarmup)} | end ${gpu(last)}`,
    `  sessions ${first?.stats.sessions}/${last?.stats.sessions}, images held ${afterWarmup?.stats.preparedImages}/${last?.stats.preparedImages}, WASM memory ${mib(first?.stats.wasmMemoryBytes)} -> ${mib(afterWarmup?.stats.wasmMemoryBytes)} -> ${mib(last?.stats.wasmMemoryBytes)}`,
    `  worker JS heap ${mib(first?.stats.workerJsHeap?.usedBytes)} -> ${mib(afterWarmup?.stats.workerJsHeap?.usedBytes)} -> ${mib(last?.stats.workerJsHeap?.usedBytes)}; page heap ${mib(first?.pageJsHeapBytes)} -> ${mib(afterWarmup?.pageJsHeapBytes)} -> ${mib(last?.pageJsHeapBytes)}`,
  ].join('\n');
}

function checkFlat(result: SoakResult): void {
  expect(result.failures).toEqual([]);
  expect(result.fingerprintMismatches).toEqual([]);
  expect(result.workersStarted).toBe(1);
  const steady = result.samples.filter((s) => s.frame >= WARMUP_FRAMES);
  expect(steady.length).toBeGreaterThanOrEqual(2);
  const [reference, ...later] = steady as [SoakSample, ...SoakSample[]];
  const flat = (s: SoakSample) => ({ ...s.stats, workerJsHeap: undefined });
  for (const s of later) expect(flat(s), `frame ${s.frame} vs ${reference.frame}`).toEqual(flat(reference));
  expect(reference.stats.sessions).toBeGreaterThan(0);
  expect(reference.stats.wasmMemoryBytes).toBeGreaterThan(0);
  // Chromium has performance.memory on window only (stats() leaves workerJsHeap out in a worker), so
  // the JS heap checked is the page's, where the API side runs; the worker's is checked when present.
  expect(reference.pageJsHeapBytes).toBeGreaterThan(0);
  for (const s of later) {
    expect((s.pageJsHeapBytes ?? Infinity) - (reference.pageJsHeapBytes ?? 0), `page heap growth by frame ${s.frame}`).toBeLessThan(
      HEAP_BOUND_BYTES,
    );
    const heap = reference.stats.workerJsHeap;
    if (heap !== undefined)
      expect((s.stats.workerJsHeap?.usedBytes ?? Infinity) - heap.usedBytes, `worker heap growth by frame ${s.frame}`).toBeLessThan(
        HEAP_BOUND_BYTES,
      );
  }
}

function record(result: SoakResult): void {
  mkdirSync('test-results/soak', { recursive: true });
  writeFileSync(
    `test-results/soak/${result.backend}.json`,
    JSON.stringify(
      {
        ...result,
        warmupFrames: WARMUP_FRAMES,
        sampleEvery: SAMPLE_EVERY,
        heapBoundBytes: HEAP_BOUND_BYTES,
        date: new Date().toISOString(),
      },
      null,
      1,
    ),
  );
  console.log(summarize(result));
}

test(`WebGPU: ${FRAMES} mixed frames, our GPU buffers, sessions and WASM memory flat after warm-up, JS heap within ${HEAP_BOUND_BYTES} B`, async () => {
  test.setTimeout(120_000 + FRAMES * 1000);
  const result = await page.evaluate(([url, frames, every, verbose]) => window.soak!.runSoak(url, 'webgpu', frames, every, verbose), [
    TINY,
    FRAMES,
    SAMPLE_EVERY,
    VERBOSE,
  ] as const);
  record(result);
  expect(result.backend).toBe('webgpu');
  checkFlat(result);
  const last = result.samples.at(-1)?.stats.gpu;
  expect(last?.uncapturedErrors).toBe(0);
  expect(last?.buffers).toBeGreaterThan(0);
  expect(last?.textures).toBe(1);
});

test(`WASM: ${WASM_FRAMES} mixed frames, sessions, images and WASM memory flat after warm-up`, async () => {
  test.setTimeout(120_000 + WASM_FRAMES * 1000);
  const result = await page.evaluate(([url, frames, every, verbose]) => window.soak!.runSoak(url, 'wasm', frames, every, verbose), [
    TINY,
    WASM_FRAMES,
    PERIOD,
    VERBOSE,
  ] as const);
  record(result);
  expect(result.backend).toBe('wasm');
  expect(result.samples.at(-1)?.stats.gpu).toBeUndefined();
  checkFlat(result);
});

test('zoomed search (tiny one-shot package): WebGPU equals WASM; GPU buffers and textures flat from the second round', async () => {
  test.setTimeout(300_000);
  const rounds = 4;
  const runs: ZoomSoakResult[] = [];
  for (const backend of ['wasm', 'webgpu'] as const) {
    runs.push(await page.evaluate(([url, b, n]) => window.soak!.runZoomSoak(url, b, n), [TINY_ONESHOT, backend, rounds] as const));
  }
  const [wasm, gpu] = runs as [ZoomSoakResult, ZoomSoakResult];
  for (const run of [wasm, gpu]) {
    expect(run.failures, run.backend).toEqual([]);
    // The small patch: the whole picture + 2x2 windows; the large one: the whole picture only.
    expect(run.views).toEqual(Array.from({ length: rounds }, () => [5, 1]));
    expect(new Set(run.fingerprints).size, `${run.backend}: rounds give the same results`).toBe(1);
  }
  expect(gpu.backend).toBe('webgpu');
  // Same candidates on both backends (the merge is discrete: equal inputs up to float noise keep the same boxes).
  expect(gpu.detections.map((p) => p.length).every((n) => n > 0)).toBe(true);
  gpu.detections.forEach((patch, k) => {
    const cpu = wasm.detections[k] ?? [];
    expect(patch.length, `patch ${k}: detection count`).toBe(cpu.length);
    patch.forEach((d, i) => {
      const c = cpu[i];
      expect(Math.abs(d.score - (c?.score ?? NaN)), `patch ${k} box ${i} score`).toBeLessThanOrEqual(1e-3);
      for (const key of ['x', 'y', 'width', 'height'] as const)
        expect(Math.abs(d.box[key] - (c?.box[key] ?? NaN)), `patch ${k} box ${i} ${key}`).toBeLessThanOrEqual(0.05);
    });
  });
  const memory = (s: SoakSample) => ({
    ...s.stats.gpu,
    sessions: s.stats.sessions,
    preparedImages: s.stats.preparedImages,
    wasmMemoryBytes: s.stats.wasmMemoryBytes,
  });
  const [, second, ...later] = gpu.samples as [SoakSample, SoakSample, ...SoakSample[]];
  console.log(
    `zoom soak webgpu: after round 1 ${JSON.stringify(memory(gpu.samples[0] as SoakSample))}; after round ${rounds} ${JSON.stringify(memory(gpu.samples.at(-1) as SoakSample))}`,
  );
  for (const s of later) expect(memory(s), `round ${s.frame} vs round 2`).toEqual(memory(second));
  expect(second.stats.gpu?.uncapturedErrors).toBe(0);
  expect(second.stats.gpu?.textures).toBe(1);
});
