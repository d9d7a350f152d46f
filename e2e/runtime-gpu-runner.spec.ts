/**
 * The WebGPU package runner (createGpuPackageRunner: ORT WebGPU EP + our fused kernel on one device)
 * in chromium, on small exported packages (64x96 input, official R50 layouts, synthetic weights),
 * against our PyTorch reference outputs and against the CPU runner (wasm) on the same calls.
 * SwiftShader runs ORT's WebGPU EP far slower than a GPU, hence the small input; even so one
 * Deformable frame takes 100-280 s here (2 shared cores; ORT's Conv and MatMul under emulation, and
 * the 300-query decoder costs the same at any input size), so the whole file takes ~25 min.
 * WEBDETR_GPU_RUNNER_VARIANTS=deformable_plain,updetr_pretrain,shipped_oneshot runs a subset;
 * WEBDETR_GPU_RUNNER_PROFILE=1 logs ORT's GPU time per op type.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import type { CallResult, PlannedCall, RunnerPageResult } from './pages/runtime-gpu-runner-page.js';
import type { QueryPatch } from '../src/api/types.js';
import type { Manifest } from '../src/package/manifest.js';
import { patchBoxTensor, patchRects } from '../src/worker/patches.js';
import { imageTensorCpu, patchTensorCpu } from '../src/worker/preprocess-cpu.js';
import { maxAbsDiff, readNpyFloat32 } from '../test/export/npy.js';
import { EXPORT_CACHE, smallFixture, type ExportFixture as Fixture } from '../test/helpers/export-fixture.js';
import { decodePng } from '../cli/node/png.js';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
/** GPU runner vs CPU runner: both fp32 graphs, kernels differ in rounding only. */
const RUNNER_TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
const SIZE = { height: 64, width: 96 };
/** Two-stage picks its 300 queries among the encoder tokens: 64x96 has 128, 128x128 has 340. */
const SIZES: Record<string, { height: number; width: number }> = { deformable_two_stage: { height: 128, width: 128 } };
const sizeOf = (variant: string) => SIZES[variant] ?? SIZE;
const selected = (variant: string) => (process.env.WEBDETR_GPU_RUNNER_VARIANTS ?? variant).split(',').includes(variant);

/** The shared split-only packages (the API, CLI and Node parity tests use the same ones). */
const exportFixture = (variant: string): Fixture => smallFixture(variant, { size: sizeOf(variant) });

/** Served by the e2e vite server, which serves the repository root. */
const url = (path: string) => `/${relative(process.cwd(), resolve(path))}`;

// One page for every variant: ORT compiles its WGSL programs once per JS context, and on SwiftShader
// compiling the R50 backbone's programs costs more than running them. It also exercises a second
// runner reusing ORT's device in the same context.
let page: Page;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('console', (message) => {
    if (!/^(\[W:onnxruntime|\[vite\]|WebSocket|\d{4}-\d\d-\d\d .*\[W:onnxruntime)/.test(message.text()))
      console.log(`[page] ${message.text()}`);
  });
  // The shell comes from Playwright, not vite's HTML transform: on vite's page its HMR client reloaded
  // the page (killing a minutes-long run) when other sessions edited sources or the config. From this
  // shell the client that some module still pulls in cannot connect, so nothing reloads.
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

async function runPlan(fixture: Fixture, pipelines: string[], calls: PlannedCall[]): Promise<RunnerPageResult> {
  const result = await page.evaluate((plan) => window.runGpuRunnerPlan!(plan), {
    packageUrl: url(fixture.dir),
    pipelines,
    calls,
    cpu: true,
    profile: process.env.WEBDETR_GPU_RUNNER_PROFILE === '1',
  });
  expect(result.hasNavigatorGpu).toBe(true);
  expect(result.backend).toBe('webgpu');
  console.log(
    `adapter ${JSON.stringify(result.adapter)}, ORT ${result.ortVersion}, GPU runner created in ${(result.createMs / 1000).toFixed(1)} s`,
  );
  expect(result.uncapturedErrors).toEqual([]);
  return result;
}

function compare(label: string, got: CallResult, expected: Fixture, rows?: number) {
  const logits = got.outputs.pred_logits;
  const boxes = got.outputs.pred_boxes;
  if (logits === undefined || boxes === undefined) throw new Error(`${label}: no pred_logits / pred_boxes`);
  const wantLogits = readNpyFloat32(expected.expected_logits);
  const wantBoxes = readNpyFloat32(expected.expected_boxes);
  const n = rows ?? wantLogits.shape[1] ?? 0;
  const classes = wantLogits.shape[2] ?? 0;
  expect(logits.dims).toEqual([1, n, classes]);
  expect(boxes.dims).toEqual([1, n, 4]);
  return {
    logits: maxAbsDiff(logits.data, wantLogits.data.subarray(0, n * classes)),
    boxes: maxAbsDiff(boxes.data, wantBoxes.data.subarray(0, n * 4)),
  };
}

function runnerDiff(gpu: CallResult, cpu: CallResult | undefined) {
  if (cpu === undefined) throw new Error('no CPU runner result');
  return {
    logits: maxAbsDiff(gpu.outputs.pred_logits?.data ?? [], cpu.outputs.pred_logits?.data ?? []),
    boxes: maxAbsDiff(gpu.outputs.pred_boxes?.data ?? [], cpu.outputs.pred_boxes?.data ?? []),
  };
}

/** Logs and asserts one GPU run's max abs differences from PyTorch and from the CPU runner. */
function expectParity(label: string, reference: { logits: number; boxes: number }, cpu: { logits: number; boxes: number }) {
  console.log(
    `${label}: vs PyTorch max |logits| ${reference.logits.toExponential(2)}, |boxes| ${reference.boxes.toExponential(2)}; vs CPU runner ${cpu.logits.toExponential(2)} / ${cpu.boxes.toExponential(2)}`,
  );
  expect(reference.logits).toBeLessThanOrEqual(TOLERANCE.logits);
  expect(reference.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
  expect(cpu.logits).toBeLessThanOrEqual(RUNNER_TOLERANCE.logits);
  expect(cpu.boxes).toBeLessThanOrEqual(RUNNER_TOLERANCE.boxes);
}

function logTimings(label: string, call: CallResult) {
  const graphMs = call.stages.filter((s) => s.kind === 'graph').reduce((sum, s) => sum + s.ms, 0);
  const kernelMs = call.stages.filter((s) => s.kind === 'msDeformAttn').reduce((sum, s) => sum + s.ms, 0);
  console.log(
    `${label}: ${(call.ms / 1000).toFixed(2)} s (graphs ${(graphMs / 1000).toFixed(2)} s, kernels ${kernelMs.toFixed(0)} ms, ${call.stages.length} stages), runner buffers created ${call.runnerBuffersCreated}`,
  );
}

for (const variant of ['deformable_plain', 'deformable_refine', 'deformable_two_stage'].filter(selected)) {
  test(`${variant}: GPU runner matches the PyTorch reference and the CPU runner`, async () => {
    test.setTimeout(560_000);
    const fixture = exportFixture(variant);
    const { height, width } = sizeOf(variant);
    const image = { url: url(fixture.image), dims: [1, 3, height, width], onGpu: true };
    // A second frame (plain only, to bound the time) proves buffers and prepared kernels are reused.
    const frames = variant === 'deformable_plain' ? 2 : 1;
    const result = await runPlan(
      fixture,
      ['detect'],
      Array.from({ length: frames }, () => ({ pipeline: 'detect', inputs: { image } })),
    );
    const [first, second] = result.gpu;
    if (first === undefined) throw new Error('missing runs');
    logTimings(`${variant} frame 1`, first);
    expectParity(variant, compare(`${variant} GPU`, first, fixture), runnerDiff(first, result.cpu[0]));
    expect(first.stages.filter((s) => s.kind === 'msDeformAttn')).toHaveLength(12);
    expect(result.gpuCounters).toMatchObject({ graphRuns: 13 * frames, kernelRuns: 12 * frames });
    if (second !== undefined) {
      logTimings(`${variant} frame 2`, second);
      expect(second.runnerBuffersCreated).toBe(0);
      expect(second.outputs).toEqual(first.outputs);
    }
  });
}

(selected('updetr_pretrain') ? test : test.skip)(
  'updetr_pretrain: image once, then patches (2, 1, 2 query patches) re-run only the patch branch',
  async () => {
    test.setTimeout(560_000);
    const fixture = exportFixture('updetr_pretrain');
    if (fixture.patches === undefined) throw new Error('the fixture has no patches');
    const image = { url: url(fixture.image), dims: [1, 3, SIZE.height, SIZE.width], onGpu: true };
    const twoPatches = { url: url(fixture.patches), dims: [1, 2, 3, 128, 128] };
    const onePatch = { url: url(fixture.patches), dims: [1, 1, 3, 128, 128] };
    const calls: PlannedCall[] = [
      { pipeline: 'image', inputs: { image } },
      { pipeline: 'patches', inputs: { patches: twoPatches } },
      { pipeline: 'patches', inputs: { patches: onePatch } },
      { pipeline: 'patches', inputs: { patches: twoPatches } },
    ];
    const result = await runPlan(fixture, ['image', 'patches'], calls);
    const [imageRun, two, one, twoAgain] = result.gpu;
    if (imageRun === undefined || two === undefined || one === undefined || twoAgain === undefined) throw new Error('missing runs');
    for (const [label, call] of [
      ['image', imageRun],
      ['2 patches', two],
      ['1 patch', one],
      ['2 patches again', twoAgain],
    ] as const)
      logTimings(`updetr_pretrain ${label}`, call);
    // The image encoder ran once; each patch set re-ran only the patch graphs.
    expect(result.gpuCounters.perGraph).toEqual({ image_encoder: 1, patch_queries: 3, patch_decoder: 3 });
    for (const [label, call, rows, cpuCall] of [
      ['2 patches', two, 20, result.cpu[1]],
      ['1 patch', one, 10, result.cpu[2]],
      ['2 patches again', twoAgain, 20, result.cpu[3]],
    ] as const) {
      expectParity(`updetr_pretrain ${label}`, compare(`updetr_pretrain ${label}`, call, fixture, rows), runnerDiff(call, cpuCall));
    }
    expect(twoAgain.outputs).toEqual(two.outputs);
    // A new patch count reallocates only the patch graphs' outputs whose size follows the patch count:
    // they are sized exactly (ORT keeps the byte size it registered for a fetched output buffer; see
    // gpu-stages.ts), 3 here, both going down to one patch and back to two; nothing else is allocated.
    expect([one.runnerBuffersCreated, twoAgain.runnerBuffersCreated]).toEqual([3, 3]);
  },
);

/**
 * The shipped one-shot package (public/models/oneshot, 320x320, dynamic patch count) with 3, 1 and 3
 * patches: only the real patches run (3 x 20 and 1 x 20 queries through the decoder kernels), WebGPU
 * equals the CPU runner and the PyTorch runs of exactly those patches (test/fixtures/shipped/oneshot).
 * Inputs: the fixture photo through the CPU preprocessing (the engine's WASM path, which equals PyTorch
 * in test/shipped/shipped-parity.test.ts), written as raw float32 for the page (box-kind packages: the
 * rectangles). Then zoomed search's two halves of the patches pipeline on the same encoding: the
 * descriptors equal PyTorch's, and decoding them equals the patches pipeline. ~1 min on SwiftShader;
 * npm test runs it.
 */
(selected('shipped_oneshot') ? test : test.skip)(
  'shipped_oneshot: 3, 1, 3 query patches (dynamic patch count) equal the CPU runner and PyTorch',
  async () => {
    test.setTimeout(900_000);
    const dir = 'test/fixtures/shipped/oneshot';
    // Parsed (validated) in the page; Node's loader here cannot import the schema JSON the validator uses.
    const manifest = JSON.parse(readFileSync('public/models/oneshot/manifest.json', 'utf8')) as Manifest;
    const expected = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as { patches: QueryPatch[] };
    const png = decodePng(readFileSync(`${dir}/input.png`));
    const pixels = { data: png.data, width: png.width, height: png.height };
    const inputs = `${EXPORT_CACHE}/shipped-oneshot-inputs`;
    mkdirSync(inputs, { recursive: true });
    const imageTensor = imageTensorCpu(pixels, manifest);
    // A box-kind package takes the rectangles (the model pools its own image features); a crop-kind one, crops.
    const rects = patchRects(expected.patches, png, 10);
    const patchTensor = manifest.input.queryPatch?.kind === 'boxes' ? patchBoxTensor(rects, png) : patchTensorCpu(pixels, rects, manifest);
    writeFileSync(`${inputs}/image.f32`, new Uint8Array(imageTensor.data.buffer));
    writeFileSync(`${inputs}/patches.f32`, new Uint8Array(patchTensor.data.buffer));
    const image = { url: url(`${inputs}/image.f32`), dims: [...imageTensor.dims], onGpu: true };
    const patches = (k: number) => ({ url: url(`${inputs}/patches.f32`), dims: [1, k, ...patchTensor.dims.slice(2)], onGpu: true });
    const pytorchDescriptors = readNpyFloat32(`${dir}/descriptors.npy`);
    writeFileSync(
      `${inputs}/descriptors.f32`,
      new Uint8Array(pytorchDescriptors.data.buffer, pytorchDescriptors.data.byteOffset, pytorchDescriptors.data.byteLength),
    );
    const descriptors = { url: url(`${inputs}/descriptors.f32`), dims: pytorchDescriptors.shape, onGpu: true };
    const fromDescriptorsInputs = manifest.pipelines.find((p) => p.name === 'patches_from_descriptors')?.inputs ?? [];
    const calls: PlannedCall[] = [
      { pipeline: 'image', inputs: { image } },
      { pipeline: 'patches', inputs: { patches: patches(3) } },
      { pipeline: 'patches', inputs: { patches: patches(1) } },
      { pipeline: 'patches', inputs: { patches: patches(3) } },
      { pipeline: 'describe_patches', inputs: { patches: patches(3) } },
      {
        pipeline: 'patches_from_descriptors',
        inputs: Object.fromEntries(fromDescriptorsInputs.map((name) => [name, name === 'patches' ? patches(3) : descriptors])),
      },
    ];
    const result = await page.evaluate((plan) => window.runGpuRunnerPlan!(plan), {
      packageUrl: '/models/oneshot',
      pipelines: ['image', 'patches', 'describe_patches', 'patches_from_descriptors'],
      calls,
      cpu: true,
    });
    expect(result.backend).toBe('webgpu');
    expect(result.uncapturedErrors).toEqual([]);
    const [imageRun, three, one, threeAgain, described, fromDescriptors] = result.gpu;
    if (
      imageRun === undefined ||
      three === undefined ||
      one === undefined ||
      threeAgain === undefined ||
      described === undefined ||
      fromDescriptors === undefined
    )
      throw new Error('missing runs');
    for (const [label, call] of [
      ['image', imageRun],
      ['3 patches', three],
      ['1 patch', one],
      ['3 patches again', threeAgain],
    ] as const)
      logTimings(`shipped_oneshot ${label}`, call);
    expect(result.gpuCounters.perGraph).toMatchObject({ encoder_input: 1, patch_descriptors: 4, patch_queries: 4, patch_head: 4 });
    const pytorch = {
      3: { logits: readNpyFloat32(`${dir}/logits.npy`), boxes: readNpyFloat32(`${dir}/boxes.npy`) },
      1: { logits: readNpyFloat32(`${dir}/logits_1.npy`), boxes: readNpyFloat32(`${dir}/boxes_1.npy`) },
    };
    for (const [label, call, k, cpuCall] of [
      ['3 patches', three, 3, result.cpu[1]],
      ['1 patch', one, 1, result.cpu[2]],
      ['3 patches again', threeAgain, 3, result.cpu[3]],
    ] as const) {
      expect(call.outputs.pred_logits?.dims).toEqual([1, 20 * k, 1]);
      expect(call.outputs.pred_boxes?.dims).toEqual([1, 20 * k, 4]);
      const reference = {
        logits: maxAbsDiff(call.outputs.pred_logits?.data ?? [], pytorch[k].logits.data),
        boxes: maxAbsDiff(call.outputs.pred_boxes?.data ?? [], pytorch[k].boxes.data),
      };
      expectParity(`shipped_oneshot ${label}`, reference, runnerDiff(call, cpuCall));
    }
    expect(threeAgain.outputs).toEqual(three.outputs);
    // The patch alone equals its group among three (its queries see only its own group).
    expect(maxAbsDiff(one.outputs.pred_logits?.data ?? [], three.outputs.pred_logits?.data.slice(0, 20) ?? [])).toBeLessThanOrEqual(1e-4);
    // Zoomed search's halves: descriptors as PyTorch pools them; decoded on the same view, the patches pipeline's result.
    expect(described.outputs.patch_descriptors?.dims).toEqual(pytorchDescriptors.shape);
    const descriptorDiff = {
      gpu: maxAbsDiff(described.outputs.patch_descriptors?.data ?? [], pytorchDescriptors.data),
      cpu: maxAbsDiff(result.cpu[4]?.outputs.patch_descriptors?.data ?? [], pytorchDescriptors.data),
    };
    console.log(
      `shipped_oneshot describe_patches vs PyTorch: webgpu ${descriptorDiff.gpu.toExponential(2)}, cpu ${descriptorDiff.cpu.toExponential(2)}`,
    );
    expect(descriptorDiff.gpu).toBeLessThanOrEqual(1e-4);
    expect(descriptorDiff.cpu).toBeLessThanOrEqual(1e-4);
    const halves = {
      logits: maxAbsDiff(fromDescriptors.outputs.pred_logits?.data ?? [], pytorch[3].logits.data),
      boxes: maxAbsDiff(fromDescriptors.outputs.pred_boxes?.data ?? [], pytorch[3].boxes.data),
    };
    expectParity('shipped_oneshot patches_from_descriptors', halves, runnerDiff(fromDescriptors, result.cpu[5]));
  },
);

test('lifecycle: a disposed runner throws DisposedError; a lost device fails the run in flight and every later run with DeviceLostError', async () => {
  test.setTimeout(180_000);
  // The tiny test package (a few KB of graphs, 64x96 input like the small exports): the lifecycle does
  // not depend on the model, and its input is the small plain export's image, which other specs use.
  const image = { url: url(exportFixture('deformable_plain').image), dims: [1, 3, SIZE.height, SIZE.width] };
  // Destroys ORT's device, so it runs last: nothing in this page can use WebGPU afterwards.
  const result = await page.evaluate((plan) => window.checkGpuRunnerLifecycle!(plan), {
    packageUrl: url('test/fixtures/packages/tiny'),
    pipelines: ['image'],
    calls: [{ pipeline: 'image', inputs: { image } }],
    cpu: false,
  });
  console.log(`lifecycle: ${JSON.stringify(result)}`);
  expect(result.afterDispose).toBe('disposed');
  expect(result.inFlight).toBe('device-lost');
  expect(result.inFlightMs).toBeLessThan(2000);
  expect(result.next).toBe('device-lost');
});
