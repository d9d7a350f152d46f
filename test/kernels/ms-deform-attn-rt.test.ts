import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/device.js';
import { createMsDeformAttnRt, type MsDeformAttnRtKernel } from '../../src/kernels/ms-deform-attn-rt.js';
import { createMsDeformAttnRtWasm } from '../../src/kernels/ms-deform-attn-rt-wasm.js';
import { SOURCE_SHA256 } from '../../src/kernels/ms-deform-attn-rt-wasm-binary.js';
import { sourceDigest } from '../../scripts/build-wasm.mjs';
import { maxAbsError } from '../helpers/ms-deform-attn-case.js';
import {
  type LoadedRtCase,
  loadRtCase,
  type MsDeformAttnRtCaseMeta,
  RT_TOLERANCE,
  rtReferenceOutput,
  runRtOnGpu,
  runRtOnWasm,
} from '../helpers/ms-deform-attn-rt-case.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';

const dir = new URL('../fixtures/ms_deform_attn_rt/', import.meta.url);
const cases = (JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: MsDeformAttnRtCaseMeta[] }).cases;
const load = (meta: MsDeformAttnRtCaseMeta): LoadedRtCase => {
  const bytes = readFileSync(new URL(`${meta.name}.bin`, dir));
  return loadRtCase(meta, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

let gpu: GpuContext;
let kernel: MsDeformAttnRtKernel;
beforeAll(async () => {
  gpu = await createTestGpu();
  kernel = await createMsDeformAttnRt(gpu.device);
}, 120_000);
afterAll(() => {
  kernel.dispose();
  gpu.device.destroy();
});

describe('ms_deform_attn_rt fixtures cover the RT-DETR variants', () => {
  it('has per-level points, discrete, offset scale, shared references and a 640x640 decoder case', () => {
    expect(cases.some((c) => Array.isArray(c.points) && new Set(c.points).size > 1)).toBe(true);
    expect(cases.some((c) => c.method === 'discrete' && c.entry === 'core')).toBe(true);
    expect(cases.some((c) => c.method === 'discrete' && c.entry === 'fused')).toBe(true);
    expect(cases.some((c) => (c.offsetScale ?? 0.5) !== 0.5)).toBe(true);
    expect(cases.some((c) => c.sharedReference === true)).toBe(true);
    expect(cases.some((c) => c.levels[0]?.[0] === 80 && c.queries === 300)).toBe(true);
  });
});

describe.each(cases.map((c) => [c.name, c] as const))('ms_deform_attn_rt %s', (_name, meta) => {
  const rowLength = meta.heads * meta.headDim;
  it('float64 reference matches the PyTorch formula (1e-6)', () => {
    const c = load(meta);
    const output = rtReferenceOutput(c);
    expect(maxAbsError(output, c.expected, rowLength, c.rows)).toBeLessThanOrEqual(1e-6);
    if (meta.checksum) {
      const sumAbs = output.reduce((s, v) => s + Math.abs(v), 0);
      expect(Math.abs(sumAbs - meta.checksum.sumAbs)).toBeLessThanOrEqual(1e-9 * meta.checksum.sumAbs);
    }
  });
  it(`WASM kernel matches within ${RT_TOLERANCE}`, async () => {
    const c = load(meta);
    const wasm = await createMsDeformAttnRtWasm();
    const error = maxAbsError(runRtOnWasm(wasm, c), c.expected, rowLength, c.rows);
    console.info(`ms_deform_attn_rt (wasm) ${meta.name}: ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(RT_TOLERANCE);
  });
  it(`WGSL kernel (Dawn, SwiftShader) matches within ${RT_TOLERANCE}`, async () => {
    const c = load(meta);
    const error = maxAbsError(await runRtOnGpu(gpu.device, kernel, c), c.expected, rowLength, c.rows);
    console.info(`ms_deform_attn_rt (wgsl) ${meta.name}: ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(RT_TOLERANCE);
    expect(takeUncapturedErrors()).toEqual([]);
  }, 60_000);
});

describe('ms_deform_attn_rt validation and build', () => {
  const shape = { batch: 1, queries: 2, heads: 1, headDim: 4, levels: [[3, 3]] as [number, number][], points: [2] };
  it('rejects bad point lists, methods and lengths with InputError', async () => {
    const wasm = await createMsDeformAttnRtWasm();
    const value = new Float32Array(36);
    expect(() => wasm.core(value, new Float32Array(8), new Float32Array(4), { ...shape, points: [2, 2] })).toThrow(/point counts/);
    expect(() => wasm.core(value, new Float32Array(8), new Float32Array(4), { ...shape, points: [0] })).toThrow(InputError);
    expect(() => wasm.core(value, new Float32Array(8), new Float32Array(4), { ...shape, points: [129] })).toThrow(/128 samples/);
    expect(() => wasm.core(value, new Float32Array(8), new Float32Array(4), { ...shape, method: 'nearest' as 'discrete' })).toThrow(
      /method/,
    );
    const fused = { ...shape, referenceDim: 4 as const };
    expect(() => wasm.fused(value, new Float32Array(6), new Float32Array(8), new Float32Array(4), fused)).toThrow(
      /referencePoints has 6 values, expected 8/,
    );
    expect(() =>
      wasm.fused(value, new Float32Array(16), new Float32Array(8), new Float32Array(4), { ...fused, sharedReference: true }),
    ).toThrow(/referencePoints has 16 values, expected 8/);
  });
  it('the committed WASM binary was built from wasm/ms_deform_attn_rt.c', () => {
    expect(SOURCE_SHA256).toBe(sourceDigest(readFileSync(new URL('../../wasm/ms_deform_attn_rt.c', import.meta.url))));
  });
});
