/**
 * Faults in headless chromium, on the tiny test package (test/fixtures/packages/tiny, 24 KB of graphs:
 * a WebGPU frame on SwiftShader takes seconds, not minutes). Each fault asserts the typed error and
 * that the next good call works:
 * - GPU package runner: a graph that passed its sha256 but is not loadable ONNX -> ModelIntegrityError
 *   (invalid-graph); graphs that load but contradict the manifest -> graph-mismatch; no session or
 *   runner buffer left behind; a good runner in the same context then matches the CPU runner.
 * - Worker ending without an error event (terminate(), or its thread exiting): the call in flight
 *   rejects with WorkerError at once, the queued call and later calls run on a fresh worker, and a new
 *   createDetector for the same model works; no timer outlives dispose.
 * - GPUDevice destroyed in the middle of a frame through createDetector (WebGPU): DeviceLostError for
 *   the call in flight, then the next call recovers (fresh worker, model reloaded) and matches.
 * - GPU out of memory (injected at allocation: SwiftShader cannot run out for real), in the runner's
 *   first tensor and in a large picture's texture: GpuError(gpu-out-of-memory) naming the picture's
 *   size, then the same calls succeed on the same worker and the GPU objects we hold are what they were.
 */
import { expect, test, type Page } from '@playwright/test';
import { openShellPage } from './shell-page.js';

const TINY = '/test/fixtures/packages/tiny';

let page: Page;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  page = await openShellPage(browser, 'faults-page', 'faults');
});
test.afterAll(async () => page.close());

test('GPU runner: a verified graph that is not ONNX -> ModelIntegrityError(invalid-graph), one contradicting the manifest -> graph-mismatch, nothing left behind; a good runner then works', async () => {
  test.setTimeout(180_000);
  const result = await page.evaluate((url) => window.faults!.gpuRunnerInvalidGraph(url), TINY);
  console.log(JSON.stringify(result, (key, value: unknown) => (key === 'message' ? undefined : value)));
  expect(result.cases).toHaveLength(4);
  for (const c of result.cases) {
    const reason = c.label.startsWith('manifest says') ? 'graph-mismatch' : 'invalid-graph';
    expect(c.outcome, c.label).toMatchObject({ name: 'ModelIntegrityError', code: 'model-integrity', reason });
    expect(c.outcome.url, c.label).toMatch(/^(backbone|head)\.onnx$/);
    expect(c.liveSessions, c.label).toBe(0);
    expect(c.runnerBuffersCreated, c.label).toBe(0);
  }
  expect(result.good.outcome.name).toBe('resolved');
  expect(result.good.vsCpu.logits).toBeLessThanOrEqual(1e-3);
  expect(result.good.vsCpu.boxes).toBeLessThanOrEqual(1e-4);
  expect(result.good.uncapturedErrors).toEqual([]);
  expect(result.good.liveSessionsAfterDispose).toBe(0);
});

for (const how of ['terminate', 'exit'] as const) {
  test(`worker ends without an error event (${how}) with a call waiting: WorkerError at once, then a fresh worker; no timers after dispose`, async () => {
    test.setTimeout(120_000);
    const result = await page.evaluate(([url, h]) => window.faults!.workerCrash(url, h), [TINY, how] as const);
    console.log(`worker ${how}: ${JSON.stringify(result)}`);
    expect(result.first.name).toBe('resolved');
    expect(result.inFlight).toMatchObject({ name: 'WorkerError', code: 'worker-failed' });
    // exit: the worker closes before it reads the call. terminate: 200 ms after the call, while the
    // worker is inside a 2 s busy stretch; chromium tears the thread down (releasing its lock) when that ends.
    expect(result.inFlight.ms).toBeLessThan(how === 'terminate' ? 3000 : 1000);
    for (const key of ['queued', 'next', 'recreated'] as const) expect(result[key].name, key).toBe('resolved');
    expect([result.queuedMatches, result.nextMatches, result.recreatedMatches]).toEqual([0, 0, 0]);
    // The crashed worker and one fresh worker, shared by the recreated detector (same model URL).
    expect(result.workersStarted).toBe(2);
    expect(result.openTimersAfterDispose).toBe(0);
    expect(result.intervalsStarted).toBe(0);
  });
}

test('a busy worker (3 s without answering, like a long WASM graph run) is not taken for a dead one', async () => {
  test.setTimeout(120_000);
  const result = await page.evaluate((url) => window.faults!.workerCrash(url, 'stall'), TINY);
  console.log(`worker stall: ${JSON.stringify(result)}`);
  expect(result.inFlight.name).toBe('resolved');
  expect(result.inFlight.ms).toBeGreaterThanOrEqual(2900);
  expect([result.queuedMatches, result.nextMatches, result.recreatedMatches]).toEqual([0, 0, 0]);
  expect(result.workersStarted).toBe(1);
  expect(result.openTimersAfterDispose).toBe(0);
});

test('createDetector on WebGPU: GPUDevice destroyed mid-frame -> DeviceLostError, the next call recovers on a fresh worker and matches', async () => {
  test.setTimeout(300_000);
  const result = await page.evaluate((url) => window.faults!.deviceLossMidFrame(url, 2), TINY);
  console.log(`device loss: ${JSON.stringify(result)}`);
  expect(result.backend).toBe('webgpu');
  expect(result.first.name).toBe('resolved');
  expect(result.inFlight).toMatchObject({ name: 'DeviceLostError', code: 'device-lost' });
  expect(result.inFlight.ms).toBeLessThan(2000 + result.first.ms);
  expect(result.recovered.name).toBe('resolved');
  expect(result.recoveredBackend).toBe('webgpu');
  expect(result.workersStarted).toBe(3); // webgpu, its replacement, the wasm comparison
  expect(result.recoveredVsFirst.logits).toBeLessThanOrEqual(1e-6);
  expect(result.recoveredVsFirst.boxes).toBeLessThanOrEqual(1e-6);
  expect(result.webgpuVsWasm.logits).toBeLessThanOrEqual(1e-3);
  expect(result.webgpuVsWasm.boxes).toBeLessThanOrEqual(1e-4);
});

test('createDetector on WebGPU: GPU out of memory in the runner and for a large picture -> GpuError(gpu-out-of-memory); the same calls then work on the same worker, nothing half-made is kept', async () => {
  test.setTimeout(300_000);
  const large = { width: 1600, height: 1200 };
  const result = await page.evaluate(([url, size]) => window.faults!.outOfMemory(url, size), [TINY, large] as const);
  console.log(`out of memory: ${JSON.stringify(result)}`);
  expect(result.backend).toBe('webgpu');
  expect(result.runnerOom).toMatchObject({ name: 'GpuError', code: 'gpu-out-of-memory' });
  expect(result.runnerOom.message).toMatch(/out of memory/);
  expect(result.afterRunnerOom.name).toBe('resolved');
  expect(result.imageOom).toMatchObject({ name: 'GpuError', code: 'gpu-out-of-memory' });
  expect(result.imageOom.message).toContain(`${large.width}x${large.height} image`);
  expect(result.afterImageOom.name).toBe('resolved');
  expect(result.smallAgain.name).toBe('resolved');
  expect(result.smallAgainVsFirstGood.logits).toBeLessThanOrEqual(1e-6);
  expect(result.smallAgainVsFirstGood.boxes).toBeLessThanOrEqual(1e-6);
  expect(result.workersStarted).toBe(1);
  const [before, after] = [result.statsAfterFirstGood.gpu!, result.statsAtEnd.gpu!];
  // Same picture size at both points: the same buffers, one texture of the small picture's size.
  expect(after.buffers).toBe(before.buffers);
  expect(after.bufferBytes).toBe(before.bufferBytes);
  expect(after.textures).toBe(1);
  expect(after.textureBytes).toBe(before.textureBytes);
  expect(after.uncapturedErrors).toBe(0);
  expect(result.statsAtEnd.sessions).toBe(result.statsAfterFirstGood.sessions);
});
