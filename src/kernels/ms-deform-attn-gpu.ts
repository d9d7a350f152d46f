/**
 * What the two WGSL deformable-attention wrappers (ms-deform-attn.ts, ms-deform-attn-rt.ts) share: both
 * shaders use the same bindings (0 params, 1 value, 2 locations, 3 weights, 4 reference, 5 offsets,
 * 6 logits, 7 output), so the layouts, the operand checks and the bound call are one piece of code; the
 * params layout, pipelines and dispatch shape stay with each kernel.
 */
import { InputError } from '../errors.js';

export interface MsDeformAttnCoreBuffers {
  value: GPUBuffer;
  samplingLocations: GPUBuffer;
  attentionWeights: GPUBuffer;
  output: GPUBuffer;
}

export interface MsDeformAttnFusedBuffers {
  value: GPUBuffer;
  referencePoints: GPUBuffer;
  samplingOffsets: GPUBuffer;
  attentionLogits: GPUBuffer;
  output: GPUBuffer;
}

/** A call bound to its buffers and shape; encode it every frame, dispose it when the buffers go. */
export interface PreparedCall<Shape> {
  readonly shape: Shape;
  encode(pass: GPUComputePassEncoder): void;
  dispose(): void;
}

/** One bound buffer: its binding, its name in errors, and the float32 elements the shape needs of it. */
export type Operand = [binding: number, name: string, buffer: GPUBuffer, elements: number, needsWrite?: boolean];

const MAX_DISPATCH_X = 65535;

const storage = (binding: number, type: GPUBufferBindingType = 'read-only-storage'): GPUBindGroupLayoutEntry => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type },
});

export interface Layouts {
  core: GPUBindGroupLayout;
  fused: GPUBindGroupLayout;
  /** A pipeline layout for the entry point, made when a pipeline is first compiled. */
  pipeline(entryPoint: 'core' | 'fused'): GPUPipelineLayout;
}

/** The core (0-3, 7) and fused (0, 1, 4-7) bind group layouts. */
export function createLayouts(device: GPUDevice, label: string): Layouts {
  const params = storage(0, 'uniform');
  const core = device.createBindGroupLayout({
    label: `${label}:core`,
    entries: [params, storage(1), storage(2), storage(3), storage(7, 'storage')],
  });
  const fused = device.createBindGroupLayout({
    label: `${label}:fused`,
    entries: [params, storage(1), storage(4), storage(5), storage(6), storage(7, 'storage')],
  });
  return {
    core,
    fused,
    pipeline: (entryPoint) =>
      device.createPipelineLayout({ label: `${label}:${entryPoint}`, bindGroupLayouts: [entryPoint === 'core' ? core : fused] }),
  };
}

type Sizes<K extends string> = Record<K | 'output', number>;

export function coreOperands(
  buffers: MsDeformAttnCoreBuffers,
  sizes: Sizes<'value' | 'samplingLocations' | 'attentionWeights'>,
): Operand[] {
  return [
    [1, 'value', buffers.value, sizes.value],
    [2, 'samplingLocations', buffers.samplingLocations, sizes.samplingLocations],
    [3, 'attentionWeights', buffers.attentionWeights, sizes.attentionWeights],
    [7, 'output', buffers.output, sizes.output, true],
  ];
}

export function fusedOperands(
  buffers: MsDeformAttnFusedBuffers,
  sizes: Sizes<'value' | 'referencePoints' | 'samplingOffsets' | 'attentionLogits'>,
): Operand[] {
  return [
    [1, 'value', buffers.value, sizes.value],
    [4, 'referencePoints', buffers.referencePoints, sizes.referencePoints],
    [5, 'samplingOffsets', buffers.samplingOffsets, sizes.samplingOffsets],
    [6, 'attentionLogits', buffers.attentionLogits, sizes.attentionLogits],
    [7, 'output', buffers.output, sizes.output, true],
  ];
}

/** Each buffer is large enough, bindable as storage, and the output aliases no input. */
export function checkOperands(what: string, operands: readonly Operand[]): void {
  for (const [, name, buffer, elements, needsWrite] of operands) {
    if (buffer.size < elements * 4) {
      throw new InputError(`${what}: ${name} buffer holds ${buffer.size} bytes, the shape needs ${elements * 4}`);
    }
    if (!(buffer.usage & GPUBufferUsage.STORAGE)) throw new InputError(`${what}: ${name} buffer lacks STORAGE usage`);
    if (needsWrite && operands.some(([, other, b]) => other !== name && b === buffer)) {
      throw new InputError(`${what}: output must not alias the input ${name}`);
    }
  }
}

/** `groups` workgroups as (x, y): x up to WebGPU's 65535, the rest in y. */
export function dispatchSize(device: GPUDevice, what: string, groups: number, pairCount: number): [x: number, y: number] {
  const x = Math.min(groups, MAX_DISPATCH_X);
  const y = Math.ceil(groups / x);
  if (y > device.limits.maxComputeWorkgroupsPerDimension) throw new InputError(`${what}: ${pairCount} (query, head) pairs is too many`);
  return [x, y];
}

export interface CallParts<Shape> {
  label: string;
  shape: Shape;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** The uniform's bytes, written once into the call's own params buffer. */
  params: ArrayBuffer;
  operands: readonly Operand[];
  dispatch: [x: number, y: number];
  /** The kernel's live calls: the call adds itself and leaves on dispose, so disposing the kernel frees them. */
  live: Set<PreparedCall<Shape>>;
}

/** Writes the params buffer and bind group once; encode() then records the dispatch with no allocation. */
export function bindCall<Shape>(device: GPUDevice, parts: CallParts<Shape>): PreparedCall<Shape> {
  const { label, pipeline, dispatch, live } = parts;
  const paramsBuffer = device.createBuffer({
    label: `${label}:params`,
    size: parts.params.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(paramsBuffer, 0, parts.params);
  const bindGroup = device.createBindGroup({
    label,
    layout: parts.layout,
    entries: [
      { binding: 0, resource: { buffer: paramsBuffer } },
      ...parts.operands.map(([binding, , buffer]) => ({ binding, resource: { buffer } })),
    ],
  });
  const call: PreparedCall<Shape> = {
    shape: parts.shape,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(dispatch[0], dispatch[1]);
    },
    dispose() {
      paramsBuffer.destroy();
      live.delete(call);
    },
  };
  live.add(call);
  return call;
}
