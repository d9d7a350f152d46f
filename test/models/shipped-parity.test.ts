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

  it('one-shot: 2 patches padded to the 10 fixed slots equal the 2-patch PyTorch run; 1 patch = its group', async () => {
    const f = fixture('oneshot');
    expect(f.graphs, 'fixture is stale: run npm run build:models').toEqual(f.expected.graphs);
    const patches = f.expected.patches ?? [];
    const engine = await DetectorEngine.create({ model: `${server.base}oneshot/`, gpu: undefined, cache: false });
    try {
      expect(engine.model).toMatchObject({ variant: 'one-shot', oneShot: true, detection: false, maxPatches: 10, scoreThreshold: 0.15 });
      const image = engine.prepareImage(f.pixels);
      const result = await engine.detectWithPatches(image.id, patches, { raw: true, threshold: 0 });
      expect(result.raw?.logitsDims).toEqual(f.expected.logitsShape);
      const diff = { logits: maxAbsDiff(result.raw?.logits ?? [], f.logits.data), boxes: maxAbsDiff(result.raw?.boxes ?? [], f.boxes.data) };
      console.log(`shipped one-shot: logits ${diff.logits.toExponential(2)}, boxes ${diff.boxes.toExponential(2)}, ${result.timings.total.toFixed(0)} ms (WASM, Node)`);
      expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(result.patches.map((p) => p.detections.length)).toEqual([20, 20]);

      const encoderRuns = engine.counters.perGraph.encoder_input;
      const single = await engine.detectWithPatches(image.id, patches.slice(0, 1), { raw: true, threshold: 0 });
      expect(single.reusedImageFeatures).toBe(true);
      expect(engine.counters.perGraph.encoder_input).toBe(encoderRuns);
      expect(single.raw?.logitsDims).toEqual([1, 20, 1]);
      expect(maxAbsDiff(single.raw?.logits ?? [], f.logits.data.subarray(0, 20))).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(maxAbsDiff(single.raw?.boxes ?? [], f.boxes.data.subarray(0, 80))).toBeLessThanOrEqual(TOLERANCE.boxes);
    } finally {
      await engine.dispose();
    }
  }, 300_000);
});
