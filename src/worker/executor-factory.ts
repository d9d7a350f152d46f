/** Creates the PackageExecutor for the chosen backend (the GPU runner is loaded only when used). */
import * as ort from 'onnxruntime-web';
import type { Manifest } from '../model/manifest.js';
import type { PackageExecutor } from '../model/executor.js';
import { createCpuPackageRunner } from '../model/package-runner-cpu.js';
import type { BackendChoice } from './backend-choice.js';
import { describeAdapter } from './backend-choice.js';

export interface CreatedExecutor {
  runner: PackageExecutor;
  /** The shared device (onnxruntime-web's and our kernels') on WebGPU. */
  device?: GPUDevice;
  description: string;
}

/** WASM threads need cross-origin isolation (SharedArrayBuffer); otherwise one thread. */
export function wasmThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 1;
  return isolated ? Math.max(1, Math.min(4, cores)) : 1;
}

export async function createExecutor(
  choice: BackendChoice,
  manifest: Manifest,
  graphs: ReadonlyMap<string, Uint8Array>,
  pipelines: readonly string[],
): Promise<CreatedExecutor> {
  if (choice.name === 'webgpu') {
    const { createGpuPackageRunner } = await import('../model/package-runner-gpu.js');
    const runner = await createGpuPackageRunner({ manifest, graphs, pipelines, ...(choice.adapter ? { adapter: choice.adapter } : {}) });
    return { runner, device: runner.device, description: `WebGPU: ${choice.adapterSummary ? describeAdapter(choice.adapterSummary) : 'adapter'}` };
  }
  const threads = wasmThreads();
  ort.env.wasm.numThreads = threads;
  const runner = await createCpuPackageRunner({ manifest, graphs, pipelines });
  return { runner, description: `WASM (onnxruntime-web, ${threads} thread${threads === 1 ? '' : 's'})` };
}
