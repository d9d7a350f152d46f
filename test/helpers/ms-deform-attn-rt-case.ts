/**
 * Loads an ms_deform_attn_rt parity fixture (tools/fixtures/ms_deform_attn_rt.py) and runs it through the
 * float64 reference, the WebAssembly kernel and the WGSL kernel. Environment-free (Node and the chromium page).
 */
import { readFloat32 } from '../../src/gpu/buffers.js';
import { withGpuErrorScopes } from '../../src/gpu/error-scope.js';
import type { MsDeformAttnRtKernel } from '../../src/kernels/ms-deform-attn-rt.js';
import { msDeformAttnRtCoreReference, msDeformAttnRtFusedReference } from '../../src/kernels/ms-deform-attn-rt-reference.js';
import { type MsDeformAttnRtFusedShape, rtTensorSizes } from '../../src/kernels/ms-deform-attn-rt-shape.js';
import type { MsDeformAttnRtWasm } from '../../src/kernels/ms-deform-attn-rt-wasm.js';
import type { ReferenceDim } from '../../src/kernels/ms-deform-attn-shape.js';
import { hashUniform } from './hash-uniform.js';

export interface MsDeformAttnRtCaseMeta extends Omit<MsDeformAttnRtFusedShape, 'referenceDim'> {
  name: string;
  entry: 'core' | 'fused';
  referenceDim?: ReferenceDim;
  seed: number;
  hashInputs?: Record<string, [scale: number, shift: number]>;
  rows?: number[];
  checksum?: { sum: number; sumAbs: number };
  sections: Array<{ name: string; offset: number; length: number; shape: number[] }>;
}

export interface LoadedRtCase {
  meta: MsDeformAttnRtCaseMeta;
  inputs: Record<string, Float32Array<ArrayBuffer>>;
  expected: Float32Array;
  rows: number[] | null;
}

export const RT_TOLERANCE = 2e-5;

const INPUT_ORDER = ['value', 'samplingLocations', 'attentionWeights', 'referencePoints', 'samplingOffsets', 'attentionLogits'];

const fusedShape = (meta: MsDeformAttnRtCaseMeta): MsDeformAttnRtFusedShape => ({ ...meta, referenceDim: meta.referenceDim ?? 2 });

export function loadRtCase(meta: MsDeformAttnRtCaseMeta, blob: ArrayBuffer): LoadedRtCase {
  const section = (name: string) => {
    const s = meta.sections.find((x) => x.name === name);
    if (!s) throw new Error(`${meta.name}: no section ${name}`);
    return new Float32Array(blob, s.offset, s.length);
  };
  const inputs: Record<string, Float32Array<ArrayBuffer>> = {};
  if (meta.hashInputs) {
    const shape = fusedShape(meta);
    const counts: Record<string, number> = rtTensorSizes(shape, shape.referenceDim, shape.sharedReference ?? false);
    Object.entries(meta.hashInputs).forEach(([name, [scale, shift]], index) => {
      const u = hashUniform(counts[name] ?? 0, meta.seed + index);
      for (let i = 0; i < u.length; i++) u[i] = (u[i] ?? 0) * scale + shift;
      inputs[name] = u;
    });
    return { meta, inputs, expected: section('expectedRows'), rows: meta.rows ?? null };
  }
  for (const name of INPUT_ORDER) if (meta.sections.some((s) => s.name === name)) inputs[name] = section(name);
  return { meta, inputs, expected: section('expected'), rows: null };
}

function need(c: LoadedRtCase, name: string): Float32Array<ArrayBuffer> {
  const v = c.inputs[name];
  if (!v) throw new Error(`${c.meta.name}: missing input ${name}`);
  return v;
}

export function rtReferenceOutput(c: LoadedRtCase): Float64Array {
  const n = (name: string) => need(c, name);
  if (c.meta.entry === 'core') return msDeformAttnRtCoreReference(n('value'), n('samplingLocations'), n('attentionWeights'), c.meta);
  return msDeformAttnRtFusedReference(n('value'), n('referencePoints'), n('samplingOffsets'), n('attentionLogits'), fusedShape(c.meta));
}

export function runRtOnWasm(kernel: MsDeformAttnRtWasm, c: LoadedRtCase): Float32Array {
  const n = (name: string) => need(c, name);
  if (c.meta.entry === 'core') return kernel.core(n('value'), n('samplingLocations'), n('attentionWeights'), c.meta);
  return kernel.fused(n('value'), n('referencePoints'), n('samplingOffsets'), n('attentionLogits'), fusedShape(c.meta));
}

export async function runRtOnGpu(device: GPUDevice, kernel: MsDeformAttnRtKernel, c: LoadedRtCase): Promise<Float32Array> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, data] of Object.entries(c.inputs)) {
    const buffer = device.createBuffer({ label: `test:${name}`, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage });
    device.queue.writeBuffer(buffer, 0, data);
    buffers[name] = buffer;
  }
  const { meta } = c;
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
      const call =
        meta.entry === 'core'
          ? kernel.prepareCore(meta, {
              value: buffer('value'),
              samplingLocations: buffer('samplingLocations'),
              attentionWeights: buffer('attentionWeights'),
              output,
            })
          : kernel.prepareFused(fusedShape(meta), {
              value: buffer('value'),
              referencePoints: buffer('referencePoints'),
              samplingOffsets: buffer('samplingOffsets'),
              attentionLogits: buffer('attentionLogits'),
              output,
            });
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
