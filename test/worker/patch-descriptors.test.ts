/**
 * Cross-image exemplars through the engine (issue 26), on the shipped one-shot package on WASM in Node:
 * describePatches on picture A, then detectWithPatches(A, descriptors) equals detectWithPatches(A, rects)
 * without zoom (the patches pipeline is the describe and the from-descriptors graphs in a row); the same
 * descriptors search picture B; a set survives JSON; a set from another package, a changed value, a
 * changed patch or a missing field is an InputError, never boxes.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchDescriptors, QueryPatch } from '../../src/api/types';
import { DetectorEngine } from '../../src/worker/engine';
import { decodePng } from '../../cli/node/png';
import { serveDirectories, type StaticServer } from '../helpers/static-server';

let server: StaticServer;
let engine: DetectorEngine;
let tiny: DetectorEngine;
const pictureA = decodePng(readFileSync('test/fixtures/shipped/oneshot/input.png'));
const pictureB = decodePng(readFileSync('../shared/reference/image.png'));
const expected = JSON.parse(readFileSync('test/fixtures/shipped/oneshot/expected.json', 'utf8')) as { patches: QueryPatch[] };
const rects: QueryPatch[] = expected.patches.slice(0, 2);
const copy = (p: typeof pictureA) => ({ data: new Uint8ClampedArray(p.data), width: p.width, height: p.height });

beforeAll(async () => {
  server = await serveDirectories({ oneshot: 'public/models/oneshot', tiny: 'test/fixtures/packages/tiny-oneshot' });
  engine = await DetectorEngine.create({ model: `${server.base}oneshot/`, gpu: undefined, cache: false });
  tiny = await DetectorEngine.create({ model: `${server.base}tiny/`, gpu: undefined, cache: false });
}, 300_000);
afterAll(async () => {
  await engine?.dispose();
  await tiny?.dispose();
  await server.close();
});

describe('describePatches / detectWithPatches(descriptors) (shipped one-shot package, WASM)', () => {
  let described: PatchDescriptors;

  it('describe on A then search A equals detectWithPatches(A, rects) without zoom', async () => {
    described = await engine.describePatches(copy(pictureA), rects);
    expect(described.format).toBe('webdetr-patch-descriptors-1');
    expect(described.patches).toEqual(rects);
    expect(described.descriptors.length).toBe(rects.length * described.width);
    expect(described.checksum).toMatch(/^[0-9a-f]{64}$/);
    const direct = await engine.detectWithPatches(copy(pictureA), rects, { zoom: false, threshold: 0, raw: true });
    const viaDescriptors = await engine.detectWithPatches(copy(pictureA), described, { threshold: 0, raw: true });
    expect(Array.from(viaDescriptors.raw!.logits)).toEqual(Array.from(direct.raw!.logits));
    expect(Array.from(viaDescriptors.raw!.boxes)).toEqual(Array.from(direct.raw!.boxes));
    expect(viaDescriptors.patches.map((p) => p.detections)).toEqual(direct.patches.map((p) => p.detections));
    expect(viaDescriptors.patches.map((p) => p.views)).toEqual([1, 1]);
  }, 300_000);

  it('the same descriptors search another picture, also after a JSON round trip', async () => {
    const onB = await engine.detectWithPatches(copy(pictureB), described, { threshold: 0, raw: true });
    expect(onB.imageSize).toEqual({ width: pictureB.width, height: pictureB.height });
    expect(onB.patches).toHaveLength(rects.length);
    for (const patch of onB.patches)
      for (const d of patch.detections) expect(d.box.x + d.box.width).toBeLessThanOrEqual(pictureB.width + 1e-3);
    const stored = JSON.parse(
      JSON.stringify({ ...described, descriptors: Array.from(described.descriptors), boxes: Array.from(described.boxes) }),
    ) as PatchDescriptors;
    const again = await engine.detectWithPatches(copy(pictureB), stored, { threshold: 0, raw: true });
    expect(Array.from(again.raw!.logits)).toEqual(Array.from(onB.raw!.logits));
  }, 300_000);

  it('a changed descriptor value, patch or box, a missing checksum or another format: InputError, no boxes', async () => {
    const values = Float32Array.from(described.descriptors);
    values[3] = (values[3] ?? 0) + 0.5;
    const cases: [string, unknown, RegExp][] = [
      ['a descriptor value changed', { ...described, descriptors: values }, /checksum does not match/],
      ['a patch moved', { ...described, patches: [{ ...rects[0]!, x: rects[0]!.x + 1 }, rects[1]] }, /checksum does not match/],
      [
        'a box changed',
        { ...described, boxes: Float32Array.from(described.boxes, (v, i) => (i === 0 ? v + 0.01 : v)) },
        /checksum does not match/,
      ],
      ['no checksum', { ...described, checksum: undefined }, /checksum does not match/],
      ['another format', { ...described, format: 'something-else' }, /unknown format/],
      [
        'a NaN',
        { ...described, descriptors: Float32Array.from(described.descriptors, (v, i) => (i === 0 ? Number.NaN : v)) },
        /non-finite/,
      ],
      ['values missing', { ...described, descriptors: Float32Array.from(described.descriptors).slice(1) }, /descriptor values/],
    ];
    for (const [what, value, message] of cases) {
      await expect(engine.detectWithPatches(copy(pictureB), value as PatchDescriptors), what).rejects.toMatchObject({
        name: 'InputError',
        code: 'invalid-input',
        message,
      });
    }
  }, 300_000);

  it('descriptors from another package (the tiny one-shot test package) are refused both ways', async () => {
    const small = copy({ data: pictureA.data, width: pictureA.width, height: pictureA.height });
    const foreign = await tiny.describePatches(small, [{ x: 10, y: 10, width: 60, height: 60 }]);
    await expect(engine.detectWithPatches(copy(pictureA), foreign)).rejects.toMatchObject({
      code: 'invalid-input',
      message: /another model/,
    });
    await expect(tiny.detectWithPatches(copy(pictureA), described)).rejects.toMatchObject({
      code: 'invalid-input',
      message: /another model/,
    });
    // Relabelled as this package's but with the other's values: the checksum (over the identity) fails.
    await expect(engine.detectWithPatches(copy(pictureA), { ...foreign, model: described.model })).rejects.toMatchObject({
      code: 'invalid-input',
    });
  }, 300_000);
});
