/**
 * The contract between the detector engine and whatever executes a model package's pipelines:
 * `createGpuPackageRunner` (onnxruntime-web WebGPU EP + our WGSL kernel, one shared GPUDevice) and
 * `createCpuPackageRunner` (onnxruntime-web wasm + the TypeScript reference kernel). The engine
 * only sees this interface, so both backends answer the same API.
 */
import type { BackendName } from '../api/types.js';

/** A float32 tensor in CPU memory, row-major. */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * A float32 tensor already on the executor's GPUDevice (e.g. the preprocess kernel's output).
 * The caller owns the buffer; the executor reads it during `run` and never destroys it.
 */
export interface GpuTensorRef {
  buffer: GPUBuffer;
  dims: readonly number[];
}

export type ExecutorInput = HostTensor | GpuTensorRef;

export function isGpuTensor(tensor: ExecutorInput): tensor is GpuTensorRef {
  return 'buffer' in tensor;
}

/** Wall milliseconds of one manifest stage (graph name, or the kernel stage's name). */
export interface StageTiming {
  stage: string;
  kind: 'graph' | 'msDeformAttn';
  ms: number;
}

export interface ExecutorRunResult {
  /** The pipeline's outputs, read back to the CPU. */
  outputs: Record<string, HostTensor>;
  stages: StageTiming[];
}

/** Counters tests use to prove what ran (e.g. a one-shot re-query skips the image encoder). */
export interface ExecutorCounters {
  graphRuns: number;
  kernelRuns: number;
  /** Runs per graph name. */
  perGraph: Record<string, number>;
}

export interface PackageExecutor {
  readonly backend: BackendName;
  /** Pipelines this executor was created for (only their graphs were loaded). */
  readonly pipelines: readonly string[];
  /**
   * Run one pipeline. Tensors produced by earlier runs stay alive, so a pipeline with `after`
   * (UP-DETR `patches` after `image`) reads the image's encoder memory without recomputing it.
   */
  run(pipelineName: string, inputs: Record<string, ExecutorInput>): Promise<ExecutorRunResult>;
  readonly counters: ExecutorCounters;
  /** onnxruntime sessions held (0 after dispose). */
  readonly liveSessions: number;
  /** Releases sessions and every buffer the executor owns; later calls throw DisposedError. */
  dispose(): Promise<void>;
}
