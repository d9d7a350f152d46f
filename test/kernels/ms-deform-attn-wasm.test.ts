import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createMsDeformAttnWasm } from '../../src/kernels/ms-deform-attn-wasm.js';
import { SOURCE_SHA256 } from '../../src/kernels/ms-deform-attn-wasm-binary.js';
import { compileWasm, moduleText, sourceDigest } from '../../scripts/build-wasm.mjs';
import { msDeformAttnFusedReference } from '../../src/kernels/ms-deform-attn-reference.js';
import { hashUniform } from '../helpers/hash-uniform.js';
import { maxAbsError, referenceOutput, runOnWasm } from '../helpers/ms-deform-attn-case.js';
import {
  loadMsDeformAttnCase as load,
  msDeformAttnCases as cases,
  MS_DEFORM_ATTN_TOLERANCE as TOLERANCE,
} from '../helpers/ms-deform-attn-fixtures.js';

describe.each(cases.map((c) => [c.name, c] as const))('ms_deform_attn (wasm) %s', (_name, meta) => {
  it(`${meta.entry} entry matches the PyTorch formula within ${TOLERANCE}`, async () => {
    const kernel = await createMsDeformAttnWasm();
    const c = load(meta);
    const started = performance.now();
    const output = runOnWasm(kernel, c);
    const ms = performance.now() - started;
    const rowLength = meta.heads * meta.headDim;
    const error = maxAbsError(output, c.expected, rowLength, c.rows);
    console.info(`ms_deform_attn (wasm) ${meta.name}: max |wasm - pytorch| = ${error.toExponential(2)} (${ms.toFixed(1)} ms)`);
    expect(error).toBeLessThanOrEqual(TOLERANCE);
    if (c.rows !== null) {
      // Full size: every row against the float64 TypeScript reference too, not only the stored ones.
      expect(maxAbsError(output, Float32Array.from(referenceOutput(c)), rowLength, null)).toBeLessThanOrEqual(TOLERANCE);
    }
  }, 120_000);
});

describe('ms_deform_attn (wasm) validation, memory and build', () => {
  const shape = { batch: 1, queries: 4, heads: 2, headDim: 4, levels: [[3, 3]] as [number, number][], points: 2 };
  const value = new Float32Array(72);
  const locations = new Float32Array(32);
  const weights = new Float32Array(16);

  it('rejects bad shapes and wrong operand lengths with InputError', async () => {
    const kernel = await createMsDeformAttnWasm();
    expect(() => kernel.core(value, locations, weights, { ...shape, points: 17 })).toThrow(InputError);
    expect(() => kernel.core(value, locations, weights, { ...shape, levels: [[0, 3]] })).toThrow(InputError);
    expect(() => kernel.core(value.subarray(1), locations, weights, shape)).toThrow(/value has 71 values, expected 72/);
    expect(() => kernel.fused(value, new Float32Array(8), locations, weights, { ...shape, referenceDim: 3 as 2 })).toThrow(InputError);
    expect(() => kernel.fused(value, new Float32Array(7), locations, weights, { ...shape, referenceDim: 2 })).toThrow(/referencePoints/);
  });

  it('its own exp gives the reference softmax for logits far apart (terms under e^-708 are 0) and near (ties)', async () => {
    const kernel = await createMsDeformAttnWasm();
    const fused = {
      batch: 1,
      queries: 64,
      heads: 2,
      headDim: 8,
      levels: [
        [5, 7],
        [3, 2],
      ] as [number, number][],
      points: 3,
      referenceDim: 4 as const,
    };
    const value = Float32Array.from(hashUniform((35 + 6) * 2 * 8, 11), (u) => 2 * u - 1);
    const reference = Float32Array.from(hashUniform(64 * 2 * 4, 12), (u) => 0.1 + 0.8 * u);
    const offsets = Float32Array.from(hashUniform(64 * 2 * 2 * 3 * 2, 13), (u) => 6 * u - 3);
    for (const spread of [2000, 40, 1e-6]) {
      const logits = Float32Array.from(hashUniform(64 * 2 * 2 * 3, 14), (u) => spread * (u - 0.5));
      const want = msDeformAttnFusedReference(value, reference, offsets, logits, fused);
      const got = kernel.fused(value, reference, offsets, logits, fused);
      expect(maxAbsError(got, Float32Array.from(want), 16, null), `spread ${spread}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('memory grows to the largest call, then stays flat; outputs do not alias it', async () => {
    const kernel = await createMsDeformAttnWasm();
    const meta = cases.find((c) => c.name === 'fused_points_d5_n2') ?? cases[0]!;
    const c = load(meta);
    const first = runOnWasm(kernel, c);
    const bytes = kernel.memoryBytes;
    for (let i = 0; i < 20; i++) expect(runOnWasm(kernel, c)).toEqual(first);
    expect(kernel.memoryBytes).toBe(bytes);
    kernel.core(value, locations, weights, shape); // a smaller call reuses the same memory
    expect(kernel.memoryBytes).toBe(bytes);
    expect(first.buffer.byteLength).toBe(first.byteLength);
  });

  it('the committed binary was built from the C source as it is now', () => {
    const source = readFileSync(new URL('../../wasm/ms_deform_attn.c', import.meta.url));
    expect(SOURCE_SHA256, 'stale: run npm run build:wasm').toBe(sourceDigest(source));
  });

  const hasClang = (() => {
    try {
      execFileSync('clang', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!hasClang)('a fresh build from the source passes the parity cases (needs Debian clang + lld)', async () => {
    const sourcePath = new URL('../../wasm/ms_deform_attn.c', import.meta.url).pathname;
    const wasm = compileWasm(sourcePath);
    const text = moduleText('ms_deform_attn.c', readFileSync(sourcePath), wasm);
    const base64 = [...text.matchAll(/^ {2}'([^']+)'/gm)].map((m) => m[1]).join('');
    expect(Buffer.from(base64, 'base64')).toEqual(Buffer.from(wasm));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
    expect(Object.keys(instance.exports).sort()).toEqual(['__heap_base', 'memory', 'msda_core', 'msda_fused']);
  });
});
