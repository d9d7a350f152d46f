/**
 * Loads a ms_deform_attn parity fixture (tools/fixtures/ms_deform_attn.py) and runs it through the
 * WGSL kernel and the TypeScript reference. Environment-free: Node tests and the chromium page
 * both use it (they differ only in how they read files and get a device).
 */
import { readFloat32 } from '../../src/gpu/buffers.js';
import { withGpuErrorScopes } from '../../src/gpu/error-scope.js';
import type { MsDeformAttnCoreBuffers, MsDeformAttnFusedBuffers, MsDeformAttnKernel } from '../../src/kernels/ms-deform-attn.js';
import type { MsDeformAttnWasm } from '../../src/kernels/ms-deform-attn-wasm.js';
import { msDeformAttnCoreReference, msDeformAttnFusedReference } from '../../src/kernels/ms-deform-attn-reference.js';
import type { MsDeformAttnShape, ReferenceDim } from '../../src/kernels/ms-deform-attn-shape.js';
import { hashUniform } from './hash-uniform.js';

/** What both deformable-attention kernels' fixtures (this one and ms-deform-attn-rt-case.ts) carry besides the shape. */
export interface CaseFixtureMeta {
  name: string;
  entry: 'core' | 'fused';
  referenceDim?: ReferenceDim;
  seed: number;
  hashInputs?: Record<string, [scale: number, shift: number]>;
  rows?: number[];
  /** Full-size cases: float64 sum and sum of |x| over every output value. */
  checksum?: { sum: number; sumAbs: number };
  sections: Array<{ name: string; offset: number; length: number; shape: number[] }>;
}

export interface FixtureCase<Meta> {
  meta: Meta;
  inputs: Record<string, Float32Array<ArrayBuffer>>;
  /** Expected output rows ([rows, M*D]) and which query rows (of N*Lq) they are. */
  expected: Float32Array;
  rows: number[] | null;
}

export type MsDeformAttnCaseMeta = MsDeformAttnShape & CaseFixtureMeta;
export type LoadedCase = FixtureCase<MsDeformAttnCaseMeta>;

const INPUT_ORDER = ['value', 'samplingLocations', 'attentionWeights', 'referencePoints', 'samplingOffsets', 'attentionLogits'];

/**
 * A fixture's inputs and expected output: sections of `blob`, or for full-size cases (hashInputs) inputs
 * regenerated from the seed, `counts()` values each, and only some expected rows.
 */
export function loadFixture<Meta extends CaseFixtureMeta>(
  meta: Meta,
  blob: ArrayBuffer,
  counts: () => Record<string, number>,
): FixtureCase<Meta> {
  const section = (name: string) => {
    const s = meta.sections.find((x) => x.name === name);
    if (!s) throw new Error(`${meta.name}: no section ${name}`);
    return new Float32Array(blob, s.offset, s.length);
  };
  const inputs: Record<string, Float32Array<ArrayBuffer>> = {};
  if (meta.hashInputs) {
    const sizes = counts();
    Object.entries(meta.hashInputs).forEach(([name, [scale, shift]], index) => {
      const u = hashUniform(sizes[name] ?? 0, meta.seed + index);
      // Same float64 affine map then float32 rounding as the Python generator.
      for (let i = 0; i < u.length; i++) u[i] = (u[i] ?? 0) * scale + shift;
      inputs[name] = u;
    });
    return { meta, inputs, expected: section('expectedRows'), rows: meta.rows ?? null };
  }
  for (const name of INPUT_ORDER) if (meta.sections.some((s) => s.name === name)) inputs[name] = section(name);
  return { meta, inputs, expected: section('expected'), rows: null };
}

export function loadCase(meta: MsDeformAttnCaseMeta, blob: ArrayBuffer): LoadedCase {
  return loadFixture(meta, blob, () => {
    const l = meta.levels.length;
    const s = meta.levels.reduce((sum, [h, w]) => sum + h * w, 0);
    const { batch: n, queries: lq, heads: m, headDim: d, points: p } = meta;
    return {
      value: n * s * m * d,
      samplingLocations: n * lq * m * l * p * 2,
      attentionWeights: n * lq * m * l * p,
      referencePoints: n * lq * l * (meta.referenceDim ?? 2),
      samplingOffsets: n * lq * m * l * p * 2,
      attentionLogits: n * lq * m * l * p,
    };
  });
}

/** Max |a - b| over the compared rows (all rows when `rows` is null). */
export function maxAbsError(actual: ArrayLike<number>, expected: Float32Array, rowLength: number, rows: number[] | null): number {
  let max = 0;
  const rowList = rows ?? Array.from({ length: expected.length / rowLength }, (_, i) => i);
  rowList.forEach((row, i) => {
    for (let c = 0; c < rowLength; c++) {
      const diff = Math.abs((actual[row * rowLength + c] ?? NaN) - (expected[i * rowLength + c] ?? NaN));
      max = Number.isNaN(diff) ? Infinity : Math.max(max, diff);
    }
  });
  return max;
}

export function referenceOutput(c: LoadedCase): Float64Array {
  const { meta, inputs } = c;
  const need = (name: string) => {
    const v = inputs[name];
    if (!v) throw new Error(`${meta.name}: missing input ${name}`);
    return v;
  };
  if (meta.entry === 'core') return msDeformAttnCoreReference(need('value'), need('samplingLocations'), need('attentionWeights'), meta);
  return msDeformAttnFusedReference(need('value'), need('referencePoints'), need('samplingOffsets'), need('attentionLogits'), {
    ...meta,
    referenceDim: meta.referenceDim ?? 2,
  });
}

/** Runs the case through the WebAssembly kernel (the CPU path's). */
export function runOnWasm(kernel: MsDeformAttnWasm, c: LoadedCase): Float32Array {
  const { meta, inputs } = c;
  const need = (name: string) => {
    const v = inputs[name];
    if (!v) throw new Error(`${meta.name}: missing input ${name}`);
    return v;
  };
  if (meta.entry === 'core') return kernel.core(need('value'), need('samplingLocations'), need('attentionWeights'), meta);
  return kernel.fused(need('value'), need('referencePoints'), need('samplingOffsets'), need('attentionLogits'), {
    ...meta,
    referenceDim: meta.referenceDim ?? 2,
  });
}

/** Uploads the case, runs the WGSL kernel once inside error scopes, returns the output. */
export async function runOnGpu(device: GPUDevice, kernel: MsDeformAttnKernel, c: LoadedCase): Promise<Float32Array> {
  const { meta } = c;
  return runPreparedOnGpu(device, meta, c.inputs, (buffer, output) =>
    meta.entry === 'core'
      ? kernel.prepareCore(meta, coreBuffers(buffer, output))
      : kernel.prepareFused({ ...meta, referenceDim: meta.referenceDim ?? 2 }, fusedBuffers(buffer, output)),
  );
}

type BufferOf = (name: string) => GPUBuffer;

export const coreBuffers = (buffer: BufferOf, output: GPUBuffer): MsDeformAttnCoreBuffers => ({
  value: buffer('value'),
  samplingLocations: buffer('samplingLocations'),
  attentionWeights: buffer('attentionWeights'),
  output,
});

export const fusedBuffers = (buffer: BufferOf, output: GPUBuffer): MsDeformAttnFusedBuffers => ({
  value: buffer('value'),
  referencePoints: buffer('referencePoints'),
  samplingOffsets: buffer('samplingOffsets'),
  attentionLogits: buffer('attentionLogits'),
  output,
});

/**
 * Either deformable-attention kernel's case on the GPU: uploads the inputs, lets `prepare` bind them
 * (`buffer(name)`) and an output of [N, Lq, M*D], runs the call once inside error scopes and reads it back.
 */
export async function runPreparedOnGpu(
  device: GPUDevice,
  meta: { name: string; batch: number; queries: number; heads: number; headDim: number },
  inputs: Record<string, Float32Array<ArrayBuffer>>,
  prepare: (buffer: BufferOf, output: GPUBuffer) => { encode(pass: GPUComputePassEncoder): void; dispose(): void },
): Promise<Float32Array> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, data] of Object.entries(inputs)) {
    const buffer = device.createBuffer({ label: `test:${name}`, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage });
    device.queue.writeBuffer(buffer, 0, data);
    buffers[name] = buffer;
  }
  const outputLength = meta.batch * meta.queries * meta.heads * meta.headDim;
  const output = device.createBuffer({
    label: 'test:output',
    size: outputLength * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const buffer = (name: string) => {
    const b = buffers[name];
    if (!b) throw new Error(`${meta.name}: missing buffer ${name}`);
    return b;
  };
  try {
    return await withGpuErrorScopes(device, meta.name, async () => {
      const call = prepare(buffer, output);
      const encoder = device.createCommandEncoder({ label: `test:${meta.name}` });
      const pass = encoder.beginComputePass();
      call.encode(pass);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const result = await readFloat32(device, output, outputLength);
      call.dispose();
      return result;
    });
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
    output.destroy();
  }
}
