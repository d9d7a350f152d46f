/**
 * Browser side of e2e/kernels-ms-deform-attn.spec.ts: fetches the ms_deform_attn fixtures, runs
 * each through the WGSL kernel on navigator.gpu (window.runMsDeformAttnCases) or the WebAssembly kernel
 * (window.runMsDeformAttnWasmCases) and reports the max error per case.
 */
import { acquireDevice, type AdapterSummary } from '../../src/gpu/device.js';
import { createMsDeformAttn } from '../../src/kernels/ms-deform-attn.js';
import { createMsDeformAttnWasm } from '../../src/kernels/ms-deform-attn-wasm.js';
import {
  loadCase,
  maxAbsError,
  runOnGpu,
  runOnWasm,
  type LoadedCase,
  type MsDeformAttnCaseMeta,
} from '../../test/helpers/ms-deform-attn-case.js';

export interface MsDeformAttnPageResult {
  hasNavigatorGpu: boolean;
  adapter: AdapterSummary;
  cases: Array<{ name: string; entry: string; maxError: number; seconds: number }>;
  uncapturedErrors: string[];
}

const FIXTURES = '/test/fixtures/ms_deform_attn/';

async function runMsDeformAttnCases(names: string[] | null): Promise<MsDeformAttnPageResult> {
  const { adapterSummary, device } = await acquireDevice(navigator.gpu, { label: 'e2e-ms-deform-attn' });
  const uncapturedErrors: string[] = [];
  device.addEventListener('uncapturederror', (event) => uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
  const kernel = await createMsDeformAttn(device);
  const index = (await (await fetch(`${FIXTURES}cases.json`)).json()) as { cases: MsDeformAttnCaseMeta[] };
  const results: MsDeformAttnPageResult['cases'] = [];
  for (const meta of index.cases) {
    if (names && !names.includes(meta.name)) continue;
    const blob = await (await fetch(`${FIXTURES}${meta.name}.bin`)).arrayBuffer();
    const loaded = loadCase(meta, blob);
    const started = performance.now();
    const output = await runOnGpu(device, kernel, loaded);
    const seconds = (performance.now() - started) / 1000;
    results.push({
      name: meta.name,
      entry: meta.entry,
      maxError: maxAbsError(output, loaded.expected, meta.heads * meta.headDim, loaded.rows),
      seconds,
    });
  }
  kernel.dispose();
  device.destroy();
  return { hasNavigatorGpu: Boolean(navigator.gpu), adapter: adapterSummary, cases: results, uncapturedErrors };
}

export interface MsDeformAttnWasmPageResult {
  crossOriginIsolated: boolean;
  cases: Array<{ name: string; entry: string; maxError: number; seconds: number }>;
}

async function runMsDeformAttnWasmCases(names: string[] | null): Promise<MsDeformAttnWasmPageResult> {
  const kernel = await createMsDeformAttnWasm();
  const index = (await (await fetch(`${FIXTURES}cases.json`)).json()) as { cases: MsDeformAttnCaseMeta[] };
  const results: MsDeformAttnWasmPageResult['cases'] = [];
  for (const meta of index.cases) {
    if (names && !names.includes(meta.name)) continue;
    const loaded: LoadedCase = loadCase(meta, await (await fetch(`${FIXTURES}${meta.name}.bin`)).arrayBuffer());
    const started = performance.now();
    const output = runOnWasm(kernel, loaded);
    const seconds = (performance.now() - started) / 1000;
    results.push({
      name: meta.name,
      entry: meta.entry,
      maxError: maxAbsError(output, loaded.expected, meta.heads * meta.headDim, loaded.rows),
      seconds,
    });
  }
  return { crossOriginIsolated: globalThis.crossOriginIsolated, cases: results };
}

declare global {
  interface Window {
    runMsDeformAttnCases: typeof runMsDeformAttnCases;
    runMsDeformAttnWasmCases: typeof runMsDeformAttnWasmCases;
  }
}
window.runMsDeformAttnCases = runMsDeformAttnCases;
window.runMsDeformAttnWasmCases = runMsDeformAttnWasmCases;
