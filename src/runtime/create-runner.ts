/**
 * The PackageRunner for a backend choice: the GPU runner on WebGPU (its module, with the WGSL kernels
 * and ORT's WebGPU glue, is loaded only when used), the CPU runner on WASM.
 */
import * as ort from 'onnxruntime-web';
import type { Manifest } from '../package/manifest.js';
import type { PackageRunner } from './runner.js';
import { createCpuPackageRunner } from './package-runner-cpu.js';
import type { BackendChoice } from './backend-choice.js';
import { describeAdapter } from './backend-choice.js';

/** WASM threads need cross-origin isolation (SharedArrayBuffer); otherwise one thread. */
export function wasmThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 1;
  return isolated ? Math.max(1, Math.min(4, cores)) : 1;
}

/** What runs the package, for BackendInfo.description: the adapter on WebGPU, the thread count on WASM. */
export function describeBackend(choice: BackendChoice): string {
  if (choice.name === 'webgpu') return `WebGPU: ${choice.adapterSummary ? describeAdapter(choice.adapterSummary) : 'adapter'}`;
  const threads = wasmThreads();
  // In a page that is not cross-origin isolated say why there is one thread (docs/api.md: enableCrossOriginIsolation);
  // Node has no such property.
  const notIsolated = 'crossOriginIsolated' in globalThis && globalThis.crossOriginIsolated !== true;
  return `WASM (onnxruntime-web, ${threads} thread${threads === 1 ? '' : 's'}${notIsolated ? ': not cross-origin isolated' : ''})`;
}

export async function createRunner(
  choice: BackendChoice,
  manifest: Manifest,
  graphs: ReadonlyMap<string, Uint8Array>,
  pipelines: readonly string[],
): Promise<PackageRunner> {
  if (choice.name === 'webgpu') {
    const { createGpuPackageRunner } = await import('./package-runner-gpu.js');
    return createGpuPackageRunner({ manifest, graphs, pipelines, ...(choice.adapter ? { adapter: choice.adapter } : {}) });
  }
  ort.env.wasm.numThreads = wasmThreads();
  return createCpuPackageRunner({ manifest, graphs, pipelines });
}
