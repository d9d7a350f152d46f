/**
 * Loads an ms_deform_attn_rt parity fixture (tools/fixtures/ms_deform_attn_rt.py) and runs it through the
 * float64 reference, the WebAssembly kernel and the WGSL kernel. Environment-free (Node and the chromium page).
 */
import type { MsDeformAttnRtKernel } from '../../src/kernels/ms-deform-attn-rt.js';
import { msDeformAttnRtCoreReference, msDeformAttnRtFusedReference } from '../../src/kernels/ms-deform-attn-rt-reference.js';
import { type MsDeformAttnRtFusedShape, rtTensorSizes } from '../../src/kernels/ms-deform-attn-rt-shape.js';
import type { MsDeformAttnRtWasm } from '../../src/kernels/ms-deform-attn-rt-wasm.js';
import { type CaseFixtureMeta, coreBuffers, type FixtureCase, fusedBuffers, loadFixture, runPreparedOnGpu } from './ms-deform-attn-case.js';

export type MsDeformAttnRtCaseMeta = Omit<MsDeformAttnRtFusedShape, 'referenceDim'> & CaseFixtureMeta;
export type LoadedRtCase = FixtureCase<MsDeformAttnRtCaseMeta>;

export const RT_TOLERANCE = 2e-5;

const fusedShape = (meta: MsDeformAttnRtCaseMeta): MsDeformAttnRtFusedShape => ({ ...meta, referenceDim: meta.referenceDim ?? 2 });

export function loadRtCase(meta: MsDeformAttnRtCaseMeta, blob: ArrayBuffer): LoadedRtCase {
  return loadFixture(meta, blob, () => {
    const shape = fusedShape(meta);
    return rtTensorSizes(shape, shape.referenceDim, shape.sharedReference ?? false);
  });
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
  const { meta } = c;
  return runPreparedOnGpu(device, meta, c.inputs, (buffer, output) =>
    meta.entry === 'core'
      ? kernel.prepareCore(meta, coreBuffers(buffer, output))
      : kernel.prepareFused(fusedShape(meta), fusedBuffers(buffer, output)),
  );
}
