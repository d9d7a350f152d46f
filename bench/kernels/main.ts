/**
 * Kernel benchmark page: our WGSL MSDeformAttn vs the same operation as a plain ONNX graph run by
 * onnxruntime-web's WebGPU EP, on ONE GPUDevice (ORT's: it creates its device at the first session,
 * `await ort.env.webgpu.device` hands it to us), same input buffers, outputs left on the GPU.
 * Driven by bench/run-kernel-bench.mjs through window.webdetrKernelBench.run(config).
 */
import * as ort from 'onnxruntime-web';
import { loadCases, type GraphKind } from './bench-case.js';
import { benchCase, fmt, log } from './bench-one-case.js';
import { measureCopyBandwidth } from './copy-bandwidth.js';
import type { RepeatOptions } from './stats.js';
import { adapterWithTimestamps } from './timestamp-adapter.js';

export interface BenchConfig {
  cases: string[];
  /** Graph kinds per case (default fused + core). */
  kindsByCase?: Record<string, GraphKind[]>;
  repeat: RepeatOptions;
  /** Per-case overrides of `repeat` (the encoder-size case is slow on SwiftShader). */
  repeatByCase?: Record<string, Partial<RepeatOptions>>;
  /** Cases whose ORT first run is not profiled per op (it doubles a run that already takes minutes). */
  unprofiledCases?: string[];
  /** Our kernel runs per round (it is cheap next to the ORT graph). */
  oursPerRound: number;
  copyBytes: number;
  tolerance: number;
}

export async function run(config: BenchConfig) {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'warning';
  const allCases = await loadCases('/bench/graphs');
  const cases = config.cases.map((name) => {
    const found = allCases.find((c) => c.name === name);
    if (!found) throw new Error(`unknown case ${name}; cases.json has ${allCases.map((c) => c.name).join(', ')}`);
    return found;
  });

  ort.env.webgpu.adapter = await adapterWithTimestamps();
  // ORT creates (and owns) the device at its first session; a throwaway session starts it.
  const first = cases[0];
  if (!first) throw new Error('no cases');
  const warmSession = await ort.InferenceSession.create(await fetchBytes(`/bench/graphs/${first.graphs.core}`), {
    executionProviders: ['webgpu'],
  });
  await warmSession.release();
  const device = await ort.env.webgpu.device;
  const uncaptured: string[] = [];
  device.addEventListener('uncapturederror', (event) => uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
  const info = device.adapterInfo;
  const environment = {
    userAgent: navigator.userAgent,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    deviceFeatures: [...device.features].sort(),
    ortVersion: ort.env.versions.web ?? ort.env.versions.common,
    ortBackend: 'onnxruntime-web default bundle, executionProviders ["webgpu"] (JSEP WebGPU EP)',
    sameDevice: 'our kernel runs on await ort.env.webgpu.device, on the same input GPUBuffers',
    crossOriginIsolated: globalThis.crossOriginIsolated,
  };
  log(`adapter ${info.vendor}/${info.architecture}; ORT ${environment.ortVersion}; features ${environment.deviceFeatures.join(' ')}`);

  log('copy bandwidth');
  const copyBandwidth = await measureCopyBandwidth(device, config.copyBytes, { ...config.repeat, warmup: 1 });
  log(
    `copy shader ${fmt(copyBandwidth.shaderGpuGBps)} GB/s (GPU), copyBufferToBuffer ${fmt(copyBandwidth.bufferCopyWallGBps)} GB/s (wall)`,
  );

  const results = [];
  for (const c of cases) {
    const plan = {
      kinds: config.kindsByCase?.[c.name] ?? (['fused', 'core'] as GraphKind[]),
      repeat: { ...config.repeat, ...config.repeatByCase?.[c.name] },
      oursPerRound: config.oursPerRound,
      tolerance: config.tolerance,
      profile: !config.unprofiledCases?.includes(c.name),
    };
    results.push(await benchCase(ort, device, c, plan, copyBandwidth));
  }
  return { environment, copyBandwidth, config, cases: results, uncapturedErrors: uncaptured };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

declare global {
  interface Window {
    webdetrKernelBench?: { run: typeof run };
  }
}
window.webdetrKernelBench = { run };
