/**
 * PackageRunner: the contract between the detector engine and whatever runs a model package's
 * pipelines: `createGpuPackageRunner` (onnxruntime-web WebGPU EP + our WGSL kernel, one shared
 * GPUDevice) and `createCpuPackageRunner` (onnxruntime-web wasm + the TypeScript reference kernel);
 * `createRunner` (create-runner.ts) picks one for a backend choice. The engine only sees this
 * interface, so both backends answer the same API.
 */
import type { BackendName } from '../api/types.js';

/** A float32 tensor in CPU memory, row-major. */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * A float32 tensor already on the runner's GPUDevice (e.g. the preprocess kernel's output).
 * The caller owns the buffer; the runner reads it during `run` and never destroys it.
 */
export interface GpuTensorRef {
  buffer: GPUBuffer;
  dims: readonly number[];
}

export type RunnerInput = HostTensor | GpuTensorRef;

export function isGpuTensor(tensor: RunnerInput): tensor is GpuTensorRef {
  return 'buffer' in tensor;
}

/** Wall milliseconds of one manifest stage (graph name, or the kernel stage's name). */
export interface StageTiming {
  stage: string;
  kind: 'graph' | 'msDeformAttn' | 'msDeformAttnRt';
  ms: number;
}

export interface RunResult {
  /** The pipeline's outputs, read back to the CPU. */
  outputs: Record<string, HostTensor>;
  stages: StageTiming[];
}

/** Counters tests use to prove what ran (e.g. a one-shot re-query skips the image encoder). */
export interface RunnerCounters {
  graphRuns: number;
  kernelRuns: number;
  /** Runs per graph name. */
  perGraph: Record<string, number>;
}

export interface PackageRunner {
  readonly backend: BackendName;
  /**
   * The device its tensors live on (onnxruntime-web's, shared with our kernels), where GpuTensorRef
   * inputs must be made; undefined for the CPU runner, which takes host tensors only.
   */
  readonly device: GPUDevice | undefined;
  /** Pipelines this runner was created for (only their graphs were loaded). */
  readonly pipelines: readonly string[];
  /**
   * Run one pipeline. Tensors produced by earlier runs stay alive, so a pipeline with `after`
   * (UP-DETR `patches` after `image`) reads the image's encoder memory without recomputing it.
   */
  run(pipelineName: string, inputs: Record<string, RunnerInput>): Promise<RunResult>;
  readonly counters: RunnerCounters;
  /** onnxruntime sessions held (0 after dispose). */
  readonly liveSessions: number;
  /** Releases sessions and every buffer the runner owns; later calls throw DisposedError. */
  dispose(): Promise<void>;
}
