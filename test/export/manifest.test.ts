import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../src/errors';
import { parseManifest } from '../../src/package/manifest';

// The same example manifests are checked by tools/tests/test_export_manifest.py (Python jsonschema).
const root = 'test/fixtures/manifests';
const examples = (kind: string): string[] =>
  readdirSync(join(root, kind))
    .filter((name) => name.endsWith('.json'))
    .sort();
const load = (kind: string, name: string): unknown => JSON.parse(readFileSync(join(root, kind, name), 'utf8'));

describe('parseManifest', () => {
  it('has example sets', () => {
    expect(examples('valid').length).toBeGreaterThanOrEqual(2);
    expect(examples('invalid').length).toBeGreaterThanOrEqual(10);
  });

  for (const name of examples('valid')) {
    it(`accepts valid/${name}`, () => {
      const manifest = parseManifest(load('valid', name));
      expect(manifest.format).toBe('webdetr-model/1');
    });
  }

  for (const name of examples('invalid')) {
    it(`rejects invalid/${name} listing violations`, () => {
      let caught: unknown;
      try {
        parseManifest(load('invalid', name));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ManifestError);
      const violations = (caught as ManifestError).violations;
      expect(violations.length).toBeGreaterThan(0);
      expect((caught as ManifestError).code).toBe('invalid-manifest');
    });
  }

  it("a kernel stage's queries is a fixed count or a dim expression over symbols its pipeline binds", () => {
    const violations = (name: string): readonly string[] => {
      try {
        parseManifest(load('invalid', name));
      } catch (error) {
        return (error as ManifestError).violations;
      }
      return [];
    };
    const dynamic = parseManifest(load('valid', 'oneshot-dynamic-queries.json'));
    const kernel = dynamic.pipelines[1]?.stages.find((s) => s.kind === 'msDeformAttn');
    expect(kernel?.kind === 'msDeformAttn' ? kernel.queries : undefined).toBe('patches*3');
    expect(violations('queries-bad-expression.json').some((v) => v.startsWith('/pipelines/1/stages/1'))).toBe(true);
    expect(violations('queries-zero.json').some((v) => v.startsWith('/pipelines/1/stages/1'))).toBe(true);
    expect(violations('shape-bad-expression.json').some((v) => v.startsWith('/tensors/pred_boxes/shape/1'))).toBe(true);
    expect(violations('queries-unbound-symbol.json')).toEqual([
      '/pipelines/patches/stages/1: queries slots*3 uses slots, which no input of the pipeline binds',
    ]);
  });

  it('query patches are crops of a declared size or boxes, and the patches tensor has that shape', () => {
    const violations = (name: string): readonly string[] => {
      try {
        parseManifest(load('invalid', name));
      } catch (error) {
        return (error as ManifestError).violations;
      }
      return [];
    };
    const boxes = parseManifest(load('valid', 'oneshot-box-patches.json'));
    expect(boxes.input.queryPatch).toEqual({ kind: 'boxes', maxPatches: 4, queriesPerPatch: 3 });
    expect(violations('patch-boxes-crop-shape.json')).toEqual([
      '/tensors/patches: shape [1, patches, 3, 32, 32] is not the [1, K, 4] (kind boxes) that /input/queryPatch declares',
    ]);
    expect(violations('patch-crop-size-differs.json')).toEqual([
      '/tensors/patches: shape [1, patches, 3, 16, 32] is not the [1, K, 3, 32, 32] (kind crop) that /input/queryPatch declares',
    ]);
    expect(violations('patch-boxes-with-size.json').some((v) => v.startsWith('/input/queryPatch'))).toBe(true);
  });

  it('zoomed search: box patches only, windows that cover the image, and the two pipelines it runs', () => {
    const shipped = JSON.parse(readFileSync('public/models/oneshot/manifest.json', 'utf8')) as {
      input: { queryPatch: Record<string, unknown> };
      pipelines: { name: string }[];
    };
    expect(parseManifest(shipped).input.queryPatch).toMatchObject({ kind: 'boxes', zoom: { grid: 2, side: 0.6, below: 0.2, nmsIou: 0.5 } });
    const violations = (change: (m: typeof shipped) => void): readonly string[] => {
      const copy = structuredClone(shipped);
      change(copy);
      try {
        parseManifest(copy);
      } catch (error) {
        return (error as ManifestError).violations;
      }
      return [];
    };
    expect(violations((m) => (m.input.queryPatch.zoom = { grid: 2, side: 0.4, below: 0.2, nmsIou: 0.5 }))).toEqual([
      '/input/queryPatch/zoom: 2 windows of side 0.4 do not cover the image (grid * side must be >= 1)',
    ]);
    expect(violations((m) => (m.pipelines = m.pipelines.filter((p) => p.name !== 'describe_patches')))).toEqual([
      '/input/queryPatch/zoom: zoomed search needs pipeline describe_patches, which the package lacks',
    ]);
    expect(
      violations((m) => (m.input.queryPatch.zoom = { grid: 2, side: 0.6, below: 1.5, nmsIou: 0.5 })).some((v) =>
        v.startsWith('/input/queryPatch/zoom/below'),
      ),
    ).toBe(true);
    expect(
      violations((m) => (m.input.queryPatch.zoom = { grid: 2, side: 0.6, below: 0.2 })).some((v) => v.startsWith('/input/queryPatch/zoom')),
    ).toBe(true);
    // A crop package cannot zoom: its descriptors come from the patch's pixels, not from a view's features.
    const crop = load('valid', 'oneshot-box-patches.json') as { input: { queryPatch: Record<string, unknown> } };
    crop.input.queryPatch = {
      height: 32,
      width: 32,
      maxPatches: 4,
      queriesPerPatch: 3,
      zoom: { grid: 2, side: 0.6, below: 0.2, nmsIou: 0.5 },
    };
    expect(() => parseManifest(crop)).toThrow(ManifestError);
  });

  it('never generates code (CSP-safe): validation works with eval and Function disabled', () => {
    const originalFunction = globalThis.Function;
    // biome-ignore lint/security/noGlobalEval: saved to be replaced by a trap, then restored
    const originalEval = globalThis.eval;
    const blocked = (): never => {
      throw new Error('code generation attempted');
    };
    globalThis.eval = blocked as typeof eval;
    globalThis.Function = blocked as unknown as FunctionConstructor;
    try {
      expect(() => parseManifest(load('valid', 'minimal-deformable.json'))).not.toThrow();
      expect(() => parseManifest(load('invalid', 'bad-dtype.json'))).toThrow(ManifestError);
    } finally {
      globalThis.Function = originalFunction;
      globalThis.eval = originalEval;
    }
  });
});
