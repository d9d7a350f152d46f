/**
 * The size rule the runtime applies per picture (src/package/size-policy.ts) against the official
 * get_size_with_aspect_ratio (tools/webdetr_tools/export/size_policy.py official_size, checked there
 * against the reference model's eval_size on 2,000 sizes): the cases below are that function's outputs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors';
import { fixedInputSize, inputSizeFor, levelsOfRule, modelInputSize, shorterSideSize, stageLevels } from '../../src/package/size-policy';
import { ManifestError } from '../../src/errors';
import { parseManifest, type Manifest, type MsDeformAttnStage } from '../../src/package/manifest';

describe('shorter-side size rule', () => {
  it('equals the official get_size_with_aspect_ratio', () => {
    // [width, height, shortest, longest] -> [out width, out height], from official_size in Python
    const cases: [number, number, number, number, number, number][] = [
      [640, 480, 800, 1333, 1066, 800],
      [480, 640, 800, 1333, 800, 1066],
      [1920, 1080, 800, 1333, 1333, 750],
      [800, 800, 800, 1333, 800, 800],
      [60, 180, 64, 107, 36, 108], // longer side truncated, one over the limit, as the official code
      [40, 30, 64, 107, 85, 64], // upscaled
      [150, 200, 64, 107, 64, 85],
      [256, 144, 64, 107, 106, 60],
    ];
    for (const [w, h, s, l, ow, oh] of cases) expect(shorterSideSize(w, h, s, l), `${w}x${h}`).toEqual({ width: ow, height: oh });
    // Python's round, ties to even: round(5 / 2) = 2, round(7 / 2) = 4
    expect(shorterSideSize(2, 1, 3, 5)).toEqual({ width: 4, height: 2 });
    expect(shorterSideSize(2, 1, 4, 7)).toEqual({ width: 8, height: 4 });
  });

  it("longerSide 'unrounded' equals recent transformers' rule (official_size(..., 'unrounded') in Python)", () => {
    // [width, height, shortest, longest] -> [out width, out height]; the official rule's size in the comment
    const cases: [number, number, number, number, number, number][] = [
      [60, 180, 64, 107, 36, 107], // official 36 x 108
      [3000, 1000, 800, 1333, 1333, 444], // official 1332 x 444
      [1001, 333, 800, 1333, 1333, 443], // official 1331 x 443
      [177, 1000, 480, 640, 113, 640], // official 113 x 638
      [1920, 1080, 800, 1333, 1333, 750], // the same
      [640, 480, 800, 1333, 1066, 800], // no cap: the same
    ];
    for (const [w, h, s, l, ow, oh] of cases) {
      expect(shorterSideSize(w, h, s, l, 'unrounded'), `${w}x${h}`).toEqual({ width: ow, height: oh });
      expect(inputSizeFor({ kind: 'shorter-side', shortest: s, longest: l, longerSide: 'unrounded' }, w, h)).toEqual({
        width: ow,
        height: oh,
      });
    }
    expect(inputSizeFor({ kind: 'shorter-side', shortest: 64, longest: 107, longerSide: 'official' }, 60, 180)).toEqual({
      width: 36,
      height: 108,
    });
  });

  it('the manifest schema takes longerSide official or unrounded, nothing else', () => {
    const shipped = JSON.parse(readFileSync('public/models/detector/manifest.json', 'utf8'));
    const withPolicy = (longerSide: string) => ({
      ...shipped,
      input: {
        ...shipped.input,
        resize: 'bilinear-keep-aspect',
        sizePolicy: { kind: 'shorter-side', shortest: 320, longest: 533, longerSide },
      },
    });
    expect(parseManifest(withPolicy('unrounded')).input.sizePolicy).toEqual({
      kind: 'shorter-side',
      shortest: 320,
      longest: 533,
      longerSide: 'unrounded',
    });
    expect(() => parseManifest(withPolicy('nearest'))).toThrow(ManifestError);
  });

  it('fixed packages keep their size; shorter-side packages need a fixed one for zoom windows', () => {
    expect(inputSizeFor({ kind: 'fixed', height: 384, width: 512 }, 30, 2000)).toEqual({ height: 384, width: 512 });
    expect(inputSizeFor({ kind: 'shorter-side', shortest: 800, longest: 1333 }, 640, 480)).toEqual({ height: 800, width: 1066 });
    expect(() => inputSizeFor({ kind: 'shorter-side', shortest: 800, longest: 1333 }, 0, 480)).toThrow(InputError);
    expect(() => inputSizeFor({ kind: 'shorter-side', shortest: 8, longest: 10 }, 1, 4000)).toThrow(/too elongated/);
    expect(() => fixedInputSize({ kind: 'shorter-side', shortest: 800, longest: 1333 }, 'zoomed search')).toThrow(/fixed-size package/);
  });

  it('level shapes of a rule are ceil(size / stride), what the ResNet backbone gives', () => {
    expect(levelsOfRule({ from: 'image', strides: [8, 16, 32, 64] }, [1, 3, 800, 1066])).toEqual([
      [100, 134],
      [50, 67],
      [25, 34],
      [13, 17],
    ]);
    const stage = { levels: { from: 'image', strides: [8, 16] } } as unknown as MsDeformAttnStage;
    expect(stageLevels(stage, () => [1, 3, 37, 53])).toEqual([
      [5, 7],
      [3, 4],
    ]);
    const fixed = { levels: [[8, 12]] } as unknown as MsDeformAttnStage;
    expect(stageLevels(fixed, () => [])).toEqual([[8, 12]]);
  });

  it('a two-stage shorter-side model refuses a picture with fewer tokens than queries, saying why', () => {
    const manifest = {
      model: { variant: 'two-stage' },
      input: { sizePolicy: { kind: 'shorter-side', shortest: 64, longest: 107 } },
      architecture: { numQueries: 300, levelStrides: [8, 16, 32, 64] },
    } as unknown as Manifest;
    // 150x200 -> 64x85: 8x11 + 4x6 + 2x3 + 1x2 = 120 tokens < 300 queries
    expect(() => modelInputSize(manifest, 150, 200)).toThrow(/120 encoder tokens to pick its 300 queries/);
    const fewer = { ...manifest, architecture: { numQueries: 40, levelStrides: [8, 16, 32, 64] } } as unknown as Manifest;
    expect(modelInputSize(fewer, 150, 200)).toEqual({ width: 64, height: 85 });
  });
});
