/**
 * Picks the backend for a preference and what this context offers, and says why. `auto` avoids
 * CPU-fallback adapters (SwiftShader): onnxruntime-web's WebGPU EP there ran the official R50 model
 * at 294 s a frame vs 4.4 s on its WASM backend (measured 2026-11-23), so WASM is the honest choice.
 */
import type { BackendName, BackendPreference } from '../api/types.js';
import { WebGpuUnavailableError } from '../errors.js';
import { summarizeAdapter, type AdapterSummary } from '../gpu/device.js';

export interface BackendChoice {
  name: BackendName;
  reason: string;
  /** The adapter to use for `webgpu`. */
  adapter?: GPUAdapter;
  adapterSummary?: AdapterSummary;
}

export async function chooseBackend(preference: BackendPreference, gpu: GPU | undefined): Promise<BackendChoice> {
  if (preference === 'wasm') return { name: 'wasm', reason: 'WASM was asked for (backend: "wasm")' };
  const forced = preference === 'webgpu';
  const unavailable = (why: string): BackendChoice => {
    if (forced) throw new WebGpuUnavailableError(`backend "webgpu" was asked for, but ${why}`);
    return { name: 'wasm', reason: `WebGPU unavailable (${why}); running on WASM` };
  };
  if (gpu === undefined) return unavailable('navigator.gpu is undefined');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (cause) {
    return unavailable(`requestAdapter() failed: ${String(cause)}`);
  }
  if (adapter === null) return unavailable('requestAdapter() returned null');
  const adapterSummary = summarizeAdapter(adapter);
  if (adapterSummary.isFallbackAdapter && !forced) {
    return {
      name: 'wasm',
      reason:
        `the WebGPU adapter is a CPU fallback (${describeAdapter(adapterSummary)}), where WASM is far faster; ` +
        'pass backend: "webgpu" to use it anyway',
      adapterSummary,
    };
  }
  return {
    name: 'webgpu',
    reason: forced ? 'WebGPU was asked for (backend: "webgpu")' : 'WebGPU hardware adapter available',
    adapter,
    adapterSummary,
  };
}

export function describeAdapter(summary: AdapterSummary): string {
  const name = [summary.vendor, summary.architecture, summary.device, summary.description].filter((s) => s !== '').join(' / ');
  return `${name || 'unknown adapter'}${summary.isFallbackAdapter ? ' (CPU emulation)' : ''}`;
}
