/**
 * The shipped default models (public/models/{detector,oneshot}) on the WASM backend in Node, end to end
 * (PIL-bilinear preprocessing of a bundled photo -> split graphs + TypeScript deformable-attention
 * kernel -> post-processing), against the PyTorch model of the release checkpoint on the same photo.
 * tools/build_models.py writes both the packages and the PyTorch outputs (test/fixtures/shipped/), so
 * the test needs no Python; a fixture whose graph digests differ from the package is stale.
 * Tolerances: logits 1e-3, boxes 1e-4 abs, as for the official-checkpoint exports.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectorEngine } from '../../src/worker/engine';
import type { QueryPatch } from '../../src/api/types';
import { maxAbsDiff, readNpyFloat32 } from '../export/npy';
import { decodePng } from '../helpers/png';
import { serveDirectories, type StaticServer } from '../helpers/static-server';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };

interface Expected {
  image: string;
  patches: QueryPatch[] | null;
  graphs: Record<string, string>;
  logitsShape: number[];
  boxesShape: number[];
}

function fixture(name: 'detector' | 'oneshot') {
  const dir = `test/fixtures/shipped/${name}`;
  const expected = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as Expected;
  const manifest = JSON.parse(readFileSync(`public/models/${name}/manifest.json`, 'utf8')) as { graphs: { file: string; sha256: string }[] };
  const graphs = Object.fromEntries(manifest.graphs.map((g) => [g.file, g.sha256]));
  return { dir, expected, graphs, pixels: decodePng(readFileSync(`${dir}/input.png`)), logits: readNpyFloat32(`${dir}/logits.npy`), boxes: readNpyFloat32(`${dir}/boxes.npy`) };
}

let server: StaticServer;
beforeAll(async () => {
  server = await serveDirectories({ detector: 'public/models/detector', oneshot: 'public/models/oneshot' });
});
afterAll(async () => server.close());

describe('shipped default models equal their PyTorch checkpoints (WASM, Node)', () => {
  it('detector: raw outputs on a bundled photo', async () => {
    const f = fixture('detector');
    expect(f.graphs, 'fixture is stale: run npm run build:models').toEqual(f.expected.graphs);
    const engine = await DetectorEngine.create({ model: `${server.base}detector/`, gpu: undefined, cache: false });
    try {
      expect(engine.model).toMatchObject({ family: 'deformable-detr', variant: 'box-refine', detection: true, oneShot: false, inputSize: { width: 320, height: 320 }, scoreThreshold: 0.3 });
      const result = await engine.detect(f.pixels, { raw: true, threshold: 0, maxDetections: 100 });
      expect(result.raw?.logitsDims).toEqual(f.expected.logitsShape);
      const diff = { logits: maxAbsDiff(result.raw?.logits ?? [], f.logits.data), boxes: maxAbsDiff(result.raw?.boxes ?? [], f.boxes.data) };
      console.log(`shipped detector: logits ${diff.logits.toExponential(2)}, boxes ${diff.boxes.toExponential(2)}, ${result.timings.total.toFixed(0)} ms (WASM, Node)`);
      expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      // The split pipeline with our kernel between graphs (no single graph in shipped packages).
      expect(result.timings.stages.filter((s) => s.kind === 'msDeformAttn')).toHaveLength(6);
    } finally {
      await engine.dispose();
    }
  }, 300_000);

  it('one-shot: 3 patches and 1 patch (dynamic patch count) equal the PyTorch runs with exactly those patches', async () => {
    const f = fixture('oneshot');
    expect(f.graphs, 'fixture is stale: run npm run build:models').toEqual(f.expected.graphs);
    const patches = f.expected.patches ?? [];
    expect(patches).toHaveLength(3);
    const one = { logits: readNpyFloat32(`${f.dir}/logits_1.npy`), boxes: readNpyFloat32(`${f.dir}/boxes_1.npy`) };
    const engine = await DetectorEngine.create({ model: `${server.base}oneshot/`, gpu: undefined, cache: false });
    try {
      expect(engine.model).toMatchObject({ variant: 'one-shot', oneShot: true, detection: false, maxPatches: 10, scoreThreshold: 0.247 });
      const image = engine.prepareImage(f.pixels);
      const result = await engine.detectWithPatches(image.id, patches, { raw: true, threshold: 0 });
      // Only the real patches run: 3 x 20 queries, not 10 slots.
      expect(result.raw?.logitsDims).toEqual(f.expected.logitsShape);
      expect(f.expected.logitsShape).toEqual([1, 60, 1]);
      const diff = { logits: maxAbsDiff(result.raw?.logits ?? [], f.logits.data), boxes: maxAbsDiff(result.raw?.boxes ?? [], f.boxes.data) };
      console.log(`shipped one-shot, 3 patches: logits ${diff.logits.toExponential(2)}, boxes ${diff.boxes.toExponential(2)}, ${result.timings.total.toFixed(0)} ms (WASM, Node)`);
      expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(result.patches.map((p) => p.detections.length)).toEqual([20, 20, 20]);
      // The decoder kernels ran 3 x 20 queries (the store sizes them from the patches symbol).
      expect(result.timings.stages.filter((s) => s.kind === 'msDeformAttn')).toHaveLength(3 + 3);

      const encoderRuns = engine.counters.perGraph.encoder_input;
      const single = await engine.detectWithPatches(image.id, patches.slice(0, 1), { raw: true, threshold: 0 });
      expect(single.reusedImageFeatures).toBe(true);
      expect(engine.counters.perGraph.encoder_input).toBe(encoderRuns);
      expect(single.raw?.logitsDims).toEqual([1, 20, 1]);
      const singleDiff = { logits: maxAbsDiff(single.raw?.logits ?? [], one.logits.data), boxes: maxAbsDiff(single.raw?.boxes ?? [], one.boxes.data) };
      // The same patch alone and among others: equal up to float32 noise (its group sees only itself).
      const groupDiff = { logits: maxAbsDiff(single.raw?.logits ?? [], result.raw?.logits.slice(0, 20) ?? []), boxes: maxAbsDiff(single.raw?.boxes ?? [], result.raw?.boxes.slice(0, 80) ?? []) };
      console.log(`shipped one-shot, 1 patch: logits ${singleDiff.logits.toExponential(2)}, boxes ${singleDiff.boxes.toExponential(2)} vs PyTorch K=1; vs its group in the 3-patch run: ${groupDiff.logits.toExponential(2)}, ${groupDiff.boxes.toExponential(2)}; ${single.timings.total.toFixed(0)} ms re-query (WASM, Node)`);
      expect(singleDiff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(singleDiff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(groupDiff.logits).toBeLessThanOrEqual(1e-4);
      expect(groupDiff.boxes).toBeLessThanOrEqual(1e-5);
    } finally {
      await engine.dispose();
    }
  }, 300_000);
});
