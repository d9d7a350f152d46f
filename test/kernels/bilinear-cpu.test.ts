import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { cropResizeCpu, resizeNormalizeCpu } from '../../src/kernels/bilinear-cpu.js';
import { cropResizeReference, resizeNormalizeReference, type RgbaPixels } from '../../src/kernels/bilinear-reference.js';
import { BILINEAR_MODES, type CropRect } from '../../src/kernels/bilinear-options.js';
import { maxPixelError, parseCase, PIXEL_TOLERANCE, referenceFor, type BilinearCaseMeta } from '../helpers/bilinear-case.js';
import { hashUniform } from '../helpers/hash-uniform.js';

const dir = new URL('../fixtures/bilinear/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: BilinearCaseMeta[] };
const load = (meta: BilinearCaseMeta) => {
  const bytes = readFileSync(new URL(`${meta.name}.bin`, dir));
  return parseCase(meta, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

function randomImage(width: number, height: number, seed: number): RgbaPixels {
  const u = hashUniform(width * height * 4, seed);
  return { width, height, data: Uint8Array.from(u, (v) => Math.floor(v * 256)) };
}

/** Equal to the float64 reference rounded once to float32, value for value ('pil': byte-identical levels). */
function expectSameAsReference(actual: Float32Array, reference: Float64Array): void {
  expect(actual.length).toBe(reference.length);
  const expected = Float32Array.from(reference);
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) mismatches++;
  expect(mismatches).toBe(0);
}

describe.each(cases.map((c) => [c.name, c] as const))('bilinear (cpu) %s', (_name, meta) => {
  it('equals the float64 reference exactly and torch / PIL within the kernel tolerance', () => {
    const c = load(meta);
    const options = { mode: meta.mode, mean: meta.mean, std: meta.std };
    const actual =
      meta.op === 'resize'
        ? resizeNormalizeCpu(c.image, meta.outWidth, meta.outHeight, options)
        : cropResizeCpu(c.image, meta.rects ?? [], meta.outWidth, meta.outHeight, options);
    expectSameAsReference(actual, referenceFor(c));
    expect(maxPixelError(actual, c)).toBeLessThanOrEqual(PIXEL_TOLERANCE);
  });
});

describe('bilinear (cpu) on pictures the fixtures do not have', () => {
  // Odd sizes, upscales, 1-pixel outputs, large downscales, crops touching every edge, in every mode.
  const sizes: Array<[number, number, number, number]> = [
    [640, 480, 320, 320],
    [333, 517, 320, 320],
    [7, 5, 64, 48],
    [1, 1, 3, 2],
    [1000, 40, 32, 1],
    [97, 101, 97, 101],
  ];
  it.each(BILINEAR_MODES.flatMap((mode) => sizes.map((s) => [mode, ...s] as const)))('%s %ix%i -> %ix%i', (mode, w, h, outW, outH) => {
    const image = randomImage(w, h, w * 7 + h);
    const options = { mode, mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const };
    expectSameAsReference(resizeNormalizeCpu(image, outW, outH, options), resizeNormalizeReference(image, outW, outH, options));
    const rects: CropRect[] =
      w > 2 && h > 2
        ? [
            [0, 0, w, h],
            [w / 3, h / 4, w, h * 0.9],
            [0.4, 0.6, w / 2, h / 2],
          ]
        : [[0, 0, w, h]];
    expectSameAsReference(cropResizeCpu(image, rects, 16, 12, options), cropResizeReference(image, rects, 16, 12, options));
  });

  it('rejects what the reference rejects, with InputError', () => {
    const image = randomImage(8, 8, 1);
    expect(() => resizeNormalizeCpu({ ...image, width: 7 }, 4, 4)).toThrow(InputError);
    expect(() => resizeNormalizeCpu(image, 0, 4)).toThrow(InputError);
    expect(() => resizeNormalizeCpu(randomImage(4000, 2, 2), 10, 1, { mode: 'pil' })).toThrow(/exceeds/);
    expect(() => cropResizeCpu(image, [], 4, 4)).toThrow(/no rectangles/);
    expect(() => cropResizeCpu(image, [[2, 2, 2, 5]], 4, 4)).toThrow(InputError);
  });
});
