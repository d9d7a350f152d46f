/**
 * Full-model benchmark page: for each model package, our split pipeline (ORT WebGPU graphs + WGSL
 * kernel), the single-graph export on ORT WebGPU and on ORT WASM, and our split pipeline on the CPU (ORT
 * WASM graphs + WebAssembly kernel), one after the other on the same page, adapter, device, weights and input. Driven by bench/run-model-bench.mjs through
 * window.webdetrModelBench: init() once, then runModel(spec) per package.
 */
import * as ort from 'onnxruntime-web';
import { parseManifest } from '../../src/package/manifest.js';
import { isBoxQueryPatch } from '../../src/package/query-patch.js';
import type { HostTensor } from '../../src/runtime/runner.js';
import { installBufferTracker } from './buffer-tracker.js';
import { benchVariant, type Variant, type VariantResult } from './bench-variant.js';
import { installKernelTimestamps, type KernelTimestamps } from './kernel-timestamps.js';
import { imageTensor, loadImageBlob, patchBoxes, patchTensor, type PatchBox } from './model-input.js';
import { adapterWithTimestamps } from '../kernels/timestamp-adapter.js';
import { compareQueries } from '../../test/helpers/compare-queries.js';

export interface ModelSpec {
  /** e.g. detector-320 */
  id: string;
  /** What the entry is for: the headline comparison or a scaling point. */
  role: 'main' | 'size-scaling' | 'patch-scaling' | 'official' | 'rtdetr';
  packageUrl: string;
  image: string;
  patches?: PatchBox[];
  variants: Variant[];
  rounds: Partial<Record<Variant, number>>;
  budgetMs: number;
  /** ORT per-op profile on the first timed frame of the WebGPU variants. */
  profile: boolean;
  requeryRounds?: number;
  /** A raw float32 NCHW image at the model size (e.g. a parity fixture's), used instead of `image` as the input. */
  imageTensorUrl?: string;
  /** PyTorch's outputs on that input: each implementation is compared to them (queries matched as a set on a top-k tie). */
  reference?: { pred_logits: number[]; pred_boxes: number[]; classes: number };
}

type VariantSummary = Omit<VariantResult, 'outputs'> & {
  maxAbsDiffVsSplit?: Record<string, number>;
  vsReference?: { logits: number; boxes: number; asSet: boolean };
};

function log(line: string): void {
  console.log(`[bench] ${line}`);
}

function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  if (a.data.length !== b.data.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0)));
  return max;
}

async function modelInputs(spec: ModelSpec, manifest: ReturnType<typeof parseManifest>): Promise<Record<string, HostTensor>> {
  const blob = await loadImageBlob(spec.image);
  const [, , height, width] = manifest.tensors.image?.shape ?? [];
  if (typeof height !== 'number' || typeof width !== 'number') throw new Error(`${spec.id}: image input has no fixed size`);
  const data =
    spec.imageTensorUrl === undefined
      ? await imageTensor(blob, height, width)
      : new Float32Array(await (await fetch(spec.imageTensorUrl, { cache: 'no-store' })).arrayBuffer());
  if (data.length !== 3 * height * width) throw new Error(`${spec.id}: image tensor has ${data.length} values, not 3x${height}x${width}`);
  const inputs: Record<string, HostTensor> = { image: { data, dims: [1, 3, height, width] } };
  const patchShape = manifest.tensors.patches?.shape;
  const patchSpec = manifest.input.queryPatch;
  if (patchShape !== undefined && patchSpec !== undefined && isBoxQueryPatch(patchSpec)) {
    // Box patches: the rectangles relative to the picture (the model pools its own features), K = maxPatches.
    const slots = typeof patchShape[1] === 'number' ? patchShape[1] : patchSpec.maxPatches;
    inputs.patches = { data: await patchBoxes(blob, spec.patches ?? [], slots), dims: [1, slots, 4] };
  } else if (patchShape !== undefined) {
    const [, declared, , size] = patchShape;
    // A symbolic patch count (the shipped one-shot export) takes 1..maxPatches: oneshot-k<K> runs K = maxPatches.
    const slots = typeof declared === 'number' ? declared : manifest.input.queryPatch?.maxPatches;
    if (slots === undefined || typeof size !== 'number') throw new Error(`${spec.id}: patches input has no fixed size`);
    inputs.patches = { data: await patchTensor(blob, spec.patches ?? [], slots, size), dims: [1, slots, 3, size, size] };
  }
  return inputs;
}

/** The source picture decoded to RGBA (what the worker gets) and the model's input size. */
async function decodedPicture(spec: ModelSpec, manifest: ReturnType<typeof parseManifest>) {
  const bitmap = await createImageBitmap(await loadImageBlob(spec.image));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d');
  if (context === null) throw new Error('no 2d context');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const [, , height, width] = manifest.tensors.image?.shape ?? [];
  if (typeof height !== 'number' || typeof width !== 'number') throw new Error(`${spec.id}: image input has no fixed size`);
  return { pixels: context.getImageData(0, 0, canvas.width, canvas.height), width, height };
}

interface PageState {
  tracker: ReturnType<typeof installBufferTracker>;
  timestamps?: KernelTimestamps;
  uncapturedErrors: string[];
}

let state: PageState | undefined;

/** Once per page: ORT settings, the buffer tracker, ORT's WebGPU device (outside every cold start). */
export async function init() {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'warning';
  const page: PageState = { tracker: installBufferTracker(), uncapturedErrors: [] };
  const deviceStarted = performance.now();
  ort.env.webgpu.adapter = await adapterWithTimestamps();
  // ORT creates its device at its first session: a throwaway one on a tiny graph.
  const warm = await ort.InferenceSession.create(
    new Uint8Array(await (await fetch('/bench/graphs/ms_deform_attn_core_decoder.onnx')).arrayBuffer()),
    { executionProviders: ['webgpu'] },
  );
  await warm.release();
  const device = await ort.env.webgpu.device;
  const deviceStartMs = performance.now() - deviceStarted;
  device.addEventListener('uncapturederror', (event) => page.uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
  page.timestamps = installKernelTimestamps(device);
  state = page;
  const info = device.adapterInfo;
  const environment = {
    userAgent: navigator.userAgent,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    deviceFeatures: [...device.features].sort(),
    timestampQueries: page.timestamps.enabled,
    ortVersion: ort.env.versions.web ?? ort.env.versions.common,
    wasmThreads: ort.env.wasm.numThreads,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    deviceStartMs,
  };
  log(`adapter ${info.vendor}/${info.architecture}; ORT ${environment.ortVersion}; timestamps ${environment.timestampQueries}`);
  return environment;
}

/** One model package, its implementations in order (split first: the others are checked against it). */
export async function runModel(spec: ModelSpec) {
  const page = state;
  if (page === undefined) throw new Error('call init() first');
  const manifestText = await (await fetch(`${spec.packageUrl}/manifest.json`, { cache: 'no-store' })).text();
  const manifest = parseManifest(JSON.parse(manifestText));
  const inputs = await modelInputs(spec, manifest);
  const picture = await decodedPicture(spec, manifest);
  const variants: VariantSummary[] = [];
  let splitOutputs: Record<string, HostTensor> | undefined;
  for (const variant of spec.variants) {
    log(`${spec.id}: ${variant}`);
    const result = await benchVariant(
      {
        variant,
        rounds: spec.rounds[variant] ?? 1,
        requeryRounds: spec.requeryRounds ?? 3,
        budgetMs: spec.budgetMs,
        profile: spec.profile,
      },
      {
        manifest,
        packageUrl: spec.packageUrl,
        inputs,
        picture,
        tracker: page.tracker,
        timestamps: () => page.timestamps,
        onDevice: () => undefined,
        log,
      },
    );
    const { outputs, ...summary } = result;
    const entry: VariantSummary = summary;
    if (variant === 'split-webgpu') splitOutputs = outputs;
    else if (splitOutputs !== undefined) {
      entry.maxAbsDiffVsSplit = Object.fromEntries(
        Object.entries(outputs).flatMap(([name, t]) =>
          splitOutputs?.[name] === undefined ? [] : [[name, maxAbsDiff(t, splitOutputs[name])]],
        ),
      );
    }
    const reference = spec.reference;
    if (reference !== undefined) {
      const got = (name: string) => Float32Array.from(outputs[name]?.data ?? []);
      entry.vsReference = compareQueries(
        got('pred_logits'),
        got('pred_boxes'),
        Float32Array.from(reference.pred_logits),
        Float32Array.from(reference.pred_boxes),
        reference.classes,
      );
      log(`${spec.id}: ${variant} vs PyTorch ${JSON.stringify(entry.vsReference)}`);
    }
    variants.push(entry);
  }
  return {
    id: spec.id,
    role: spec.role,
    packageUrl: spec.packageUrl,
    input: Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t.dims])),
    architecture: manifest.architecture,
    packageBytes: manifest.graphs.reduce((a, g) => a + g.bytes, 0),
    variants,
    uncapturedErrors: page.uncapturedErrors.splice(0),
  };
}

declare global {
  interface Window {
    webdetrModelBench?: { init: typeof init; runModel: typeof runModel };
  }
}
window.webdetrModelBench = { init, runModel };
