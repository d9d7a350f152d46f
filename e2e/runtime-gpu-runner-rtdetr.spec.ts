/**
 * Exported RT-DETR packages (synthetic r18vd, 64x64 input; tools/rtdetr_parity_fixture.py) on the WebGPU package
 * runner in chromium: ORT's WebGPU EP for the graphs and the ms_deform_attn_rt WGSL kernel for the decoder's
 * cross-attention, on one device, against the PyTorch outputs and the CPU runner (WASM) on the same call.
 * Small sizes: SwiftShader runs ORT's WebGPU EP under CPU emulation.
 */
import { relative, resolve } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { maxAbsDiff, readNpyFloat32 } from '../test/export/npy.js';
import { RTDETR_TOLERANCE as TOLERANCE, type RtdetrVariant, rtdetrFixture } from '../test/helpers/rtdetr-fixture.js';
import type { RunnerPageResult } from './pages/runtime-gpu-runner-page.js';

const SIZE = { height: 64, width: 64 };
const url = (path: string) => `/${relative(process.cwd(), resolve(path))}`;

let page: Page;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  // Served by Playwright, not vite's HTML transform: no HMR client to reload a minutes-long run.
  await page.route('**/e2e/pages/runtime-gpu-runner-shell.html', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><script type="module" src="/e2e/pages/runtime-gpu-runner-page.ts"></script>',
    }),
  );
  await page.goto('/e2e/pages/runtime-gpu-runner-shell.html');
  await page.waitForFunction(() => typeof window.runGpuRunnerPlan === 'function');
});
test.afterAll(async () => page.close());

for (const variant of ['v2', 'v2-discrete', 'v1'] as RtdetrVariant[]) {
  test(`RT-DETR ${variant}: WebGPU runner matches PyTorch and the CPU runner`, async () => {
    test.setTimeout(480_000);
    const fixture = rtdetrFixture(variant, { size: SIZE });
    const image = { url: url(fixture.image), dims: [1, 3, SIZE.height, SIZE.width], onGpu: true };
    const result: RunnerPageResult = await page.evaluate((plan) => window.runGpuRunnerPlan!(plan), {
      packageUrl: url(fixture.dir),
      pipelines: ['detect'],
      calls: [{ pipeline: 'detect', inputs: { image } }],
      cpu: true,
    });
    expect(result.backend).toBe('webgpu');
    expect(result.uncapturedErrors).toEqual([]);
    const [gpu] = result.gpu;
    const [cpu] = result.cpu;
    if (gpu === undefined || cpu === undefined) throw new Error('missing runs');
    const wantLogits = readNpyFloat32(fixture.expected_logits);
    const wantBoxes = readNpyFloat32(fixture.expected_boxes);
    const diff = {
      logits: maxAbsDiff(gpu.outputs.pred_logits?.data ?? [], wantLogits.data),
      boxes: maxAbsDiff(gpu.outputs.pred_boxes?.data ?? [], wantBoxes.data),
      cpuLogits: maxAbsDiff(gpu.outputs.pred_logits?.data ?? [], cpu.outputs.pred_logits?.data ?? []),
      cpuBoxes: maxAbsDiff(gpu.outputs.pred_boxes?.data ?? [], cpu.outputs.pred_boxes?.data ?? []),
    };
    const kernels = gpu.stages.filter((s) => s.kind === 'msDeformAttnRt');
    console.log(
      `rtdetr ${variant} webgpu (${result.adapter.architecture}): vs PyTorch max |logits| ${diff.logits.toExponential(2)}, |boxes| ${diff.boxes.toExponential(2)}; vs CPU runner ${diff.cpuLogits.toExponential(2)} / ${diff.cpuBoxes.toExponential(2)}; ${(gpu.ms / 1000).toFixed(2)} s, kernels ${kernels.reduce((s, k) => s + k.ms, 0).toFixed(1)} ms`,
    );
    expect(kernels).toHaveLength(2);
    expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
    expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
    expect(diff.cpuLogits).toBeLessThanOrEqual(TOLERANCE.logits);
    expect(diff.cpuBoxes).toBeLessThanOrEqual(TOLERANCE.boxes);
  });
}
