/**
 * Browser side of e2e/kernels-ms-deform-attn-rt.spec.ts: fetches the ms_deform_attn_rt fixtures and runs each
 * through the WGSL kernel on navigator.gpu and the WebAssembly kernel; reports the max error per case.
 */
import { type AdapterSummary, acquireDevice } from '../../src/gpu/device.js';
import { createMsDeformAttnRt } from '../../src/kernels/ms-deform-attn-rt.js';
import { createMsDeformAttnRtWasm } from '../../src/kernels/ms-deform-attn-rt-wasm.js';
import { maxAbsError } from '../../test/helpers/ms-deform-attn-case.js';
import { loadRtCase, type MsDeformAttnRtCaseMeta, runRtOnGpu, runRtOnWasm } from '../../test/helpers/ms-deform-attn-rt-case.js';

export interface MsDeformAttnRtPageResult {
  hasNavigatorGpu: boolean;
  adapter: AdapterSummary;
  cases: Array<{ name: string; gpuError: number; wasmError: number; gpuSeconds: number }>;
  uncapturedErrors: string[];
}

const FIXTURES = '/test/fixtures/ms_deform_attn_rt/';

async function runMsDeformAttnRtCases(): Promise<MsDeformAttnRtPageResult> {
  const { adapterSummary, device } = await acquireDevice(navigator.gpu, { label: 'e2e-ms-deform-attn-rt' });
  const uncapturedErrors: string[] = [];
  device.addEventListener('uncapturederror', (event) => uncapturedErrors.push((event as GPUUncapturedErrorEvent).error.message));
  const kernel = await createMsDeformAttnRt(device);
  const wasm = await createMsDeformAttnRtWasm();
  const index = (await (await fetch(`${FIXTURES}cases.json`)).json()) as { cases: MsDeformAttnRtCaseMeta[] };
  const cases: MsDeformAttnRtPageResult['cases'] = [];
  for (const meta of index.cases) {
    const loaded = loadRtCase(meta, await (await fetch(`${FIXTURES}${meta.name}.bin`)).arrayBuffer());
    const rowLength = meta.heads * meta.headDim;
    const started = performance.now();
    const gpuOutput = await runRtOnGpu(device, kernel, loaded);
    const gpuSeconds = (performance.now() - started) / 1000;
    cases.push({
      name: meta.name,
      gpuError: maxAbsError(gpuOutput, loaded.expected, rowLength, loaded.rows),
      wasmError: maxAbsError(runRtOnWasm(wasm, loaded), loaded.expected, rowLength, loaded.rows),
      gpuSeconds,
    });
  }
  kernel.dispose();
  device.destroy();
  return { hasNavigatorGpu: Boolean(navigator.gpu), adapter: adapterSummary, cases, uncapturedErrors };
}

declare global {
  interface Window {
    runMsDeformAttnRtCases: typeof runMsDeformAttnRtCases;
  }
}
window.runMsDeformAttnRtCases = runMsDeformAttnRtCases;
