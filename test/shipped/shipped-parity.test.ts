/**
 * The shipped default models (public/models/{detector,oneshot}) on the WASM backend in Node, end to end
 * (PIL-bilinear preprocessing of a bundled photo -> split graphs + TypeScript deformable-attention
 * kernel -> post-processing), against the PyTorch model of the release checkpoint on the same photo.
 * tools/build_models.py writes both the packages and the PyTorch outputs (test/fixtures/shipped/), so
 * the test needs no Python; a fixture whose graph digests differ from the package is stale.
 * Tolerances: logits 1e-3, boxes 1e-4 abs, as for the official-checkpoint exports. The detector (v2b) seeds its
 * queries from the teacher's top-100 heat-map peaks (TopK): peaks with equal logits may come out in either order,
 * so its outputs are compared as a set (each expected query against the nearest actual one).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectorEngine } from '../../src/worker/engine';
import type { Detection, QueryPatch } from '../../src/api/types';
import { boxIou } from '../../src/postprocess/merge-views';
import { maxAbsDiff, readNpyFloat32 } from '../export/npy';
import { decodePng } from '../../cli/node/png';
import { serveDirectories, type StaticServer } from '../helpers/static-server';
import { setDiff } from '../helpers/aspect-fixture';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
// The detector package's suggested threshold (= SCORE_THRESHOLD in tools/webdetr_tools/ship/detector_<shipped variant>_package.py;
// tools/ship_detector.py --threshold rewrites the former and refuses to run unless this line agrees).
const DETECTOR_THRESHOLD = 0.25;

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
  const manifest = JSON.parse(readFileSync(`public/models/${name}/manifest.json`, 'utf8')) as {
    graphs: { file: string; sha256: string }[];
  };
  const graphs = Object.fromEntries(manifest.graphs.map((g) => [g.file, g.sha256]));
  return {
    dir,
    expected,
    graphs,
    pixels: decodePng(readFileSync(`${dir}/input.png`)),
    logits: readNpyFloat32(`${dir}/logits.npy`),
    boxes: readNpyFloat32(`${dir}/boxes.npy`),
  };
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
      expect(engine.model).toMatchObject({
        family: 'deformable-detr',
        variant: 'two-stage',
        detection: true,
        oneShot: false,
        inputSize: { width: 300, height: 300 },
        scoreThreshold: DETECTOR_THRESHOLD,
      });
      expect(engine.model.classNames).toHaveLength(80);
      const result = await engine.detect(f.pixels, { raw: true, threshold: 0, maxDetections: 100 });
      expect(result.raw?.logitsDims).toEqual(f.expected.logitsShape);
      const diff = setDiff(
        { logits: result.raw?.logits ?? [], boxes: result.raw?.boxes ?? [] },
        { logits: f.logits.data, boxes: f.boxes.data },
        80,
      );
      console.log(
        `shipped detector: as a set logits ${diff.logits.toExponential(2)}, boxes ${diff.boxes.toExponential(2)} (${diff.swapped} queries swapped), ${result.timings.total.toFixed(0)} ms (WASM, Node)`,
      );
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
      // zoom: false keeps every query's box (zoomed search would merge them by NMS; its own test is below).
      const result = await engine.detectWithPatches(image.id, patches, { raw: true, threshold: 0, zoom: false });
      // Only the real patches run: 3 x 20 queries, not 10 slots.
      expect(result.raw?.logitsDims).toEqual(f.expected.logitsShape);
      expect(f.expected.logitsShape).toEqual([1, 60, 1]);
      const diff = {
        logits: maxAbsDiff(result.raw?.logits ?? [], f.logits.data),
        boxes: maxAbsDiff(result.raw?.boxes ?? [], f.boxes.data),
      };
      console.log(
        `shipped one-shot, 3 patches: logits ${diff.logits.toExponential(2)}, boxes ${diff.boxes.toExponential(2)}, ${result.timings.total.toFixed(0)} ms (WASM, Node)`,
      );
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
      const singleDiff = {
        logits: maxAbsDiff(single.raw?.logits ?? [], one.logits.data),
        boxes: maxAbsDiff(single.raw?.boxes ?? [], one.boxes.data),
      };
      // The same patch alone and among others: equal up to float32 noise (its group sees only itself).
      const groupDiff = {
        logits: maxAbsDiff(single.raw?.logits ?? [], result.raw?.logits.slice(0, 20) ?? []),
        boxes: maxAbsDiff(single.raw?.boxes ?? [], result.raw?.boxes.slice(0, 80) ?? []),
      };
      console.log(
        `shipped one-shot, 1 patch: logits ${singleDiff.logits.toExponential(2)}, boxes ${singleDiff.boxes.toExponential(2)} vs PyTorch K=1; vs its group in the 3-patch run: ${groupDiff.logits.toExponential(2)}, ${groupDiff.boxes.toExponential(2)}; ${single.timings.total.toFixed(0)} ms re-query (WASM, Node)`,
      );
      expect(singleDiff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(singleDiff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(groupDiff.logits).toBeLessThanOrEqual(1e-4);
      expect(groupDiff.boxes).toBeLessThanOrEqual(1e-5);
    } finally {
      await engine.dispose();
    }
  }, 300_000);

  it('one-shot zoomed search: small patches also search the windows; merged boxes equal the PyTorch reference', async () => {
    const f = fixture('oneshot');
    const zoom = JSON.parse(readFileSync(`${f.dir}/zoom.json`, 'utf8')) as ZoomFixture;
    const engine = await DetectorEngine.create({ model: `${server.base}oneshot/`, gpu: undefined, cache: false });
    try {
      expect(engine.model.zoom).toEqual(zoom.zoom);
      const image = engine.prepareImage(f.pixels);
      const options = { threshold: 0, maxDetections: zoom.maxDetections };
      const windows = zoom.zoom.grid ** 2;
      const encoderRuns = () => engine.counters.perGraph.encoder_input ?? 0;
      // Each patch alone (as the fixture), then all at once: a patch's views do not depend on the others.
      const alone = [];
      for (const expected of zoom.patches) {
        const before = encoderRuns();
        const result = await engine.detectWithPatches(image.id, [expected.patch], options);
        alone.push(result.patches[0]);
        const small = Math.max(expected.patch.width / f.pixels.width, expected.patch.height / f.pixels.height) < zoom.zoom.below;
        expect(result.patches[0]?.views).toBe(small ? 1 + windows : 1);
        // A small patch: every window once (the one its descriptors came from is searched first, no re-encoding),
        // then the whole image. A large one right after: the whole image's encoding is reused.
        expect(encoderRuns() - before).toBe(small ? windows + 1 : 0);
        expect(result.reusedImageFeatures).toBe(!small);
        expectZoomParity(result.patches[0]?.detections ?? [], expected, `patch ${JSON.stringify(expected.patch)}`);
      }
      const together = await engine.detectWithPatches(
        image.id,
        zoom.patches.map((p) => p.patch),
        options,
      );
      together.patches.forEach((patch, k) =>
        expectZoomParity(patch.detections, zoom.patches[k] ?? { patch: patch.patch, boxes: [], scores: [] }, `patch ${k} among 3`),
      );
      expect(together.patches.map((p) => p.views)).toEqual(alone.map((p) => p?.views));
      // Off on request: the whole image only, every query's box kept.
      const off = await engine.detectWithPatches(image.id, [zoom.patches[0]?.patch ?? { x: 0, y: 0, width: 1, height: 1 }], {
        ...options,
        zoom: false,
      });
      expect(off.patches[0]).toMatchObject({ views: 1 });
      expect(off.patches[0]?.detections).toHaveLength(20);
      console.log(
        `shipped one-shot zoomed search: ${zoom.patches.length} patches within tolerance of PyTorch; ${together.timings.total.toFixed(0)} ms for 3 patches, 2 of them zoomed (WASM, Node)`,
      );
    } finally {
      await engine.dispose();
    }
  }, 600_000);
});

interface ZoomFixture {
  zoom: { grid: number; side: number; below: number; nmsIou: number };
  maxDetections: number;
  patches: { patch: QueryPatch; boxes: number[][]; scores: number[] }[];
}

/**
 * Every PyTorch detection scoring at least 0.01 has a runtime twin: the same box (IoU >= 0.99, in source
 * pixels) and score within 1e-3. The weaker tail is not matched one to one: near-equal scores there may
 * swap which of two overlapping boxes NMS keeps.
 */
function expectZoomParity(actual: readonly Detection[], expected: ZoomFixture['patches'][number], label: string): void {
  let checked = 0;
  expected.scores.forEach((score, i) => {
    if (score < 0.01) return;
    const [x0 = 0, y0 = 0, x1 = 0, y1 = 0] = expected.boxes[i] ?? [];
    const twin = actual.find(
      (d) =>
        boxIou([d.box.x, d.box.y, d.box.x + d.box.width, d.box.y + d.box.height], [x0, y0, x1, y1]) >= 0.99 &&
        Math.abs(d.score - score) <= 1e-3,
    );
    expect(
      twin,
      `${label}: PyTorch box ${i} [${[x0, y0, x1, y1].map((v) => v.toFixed(1)).join(', ')}] score ${score.toFixed(4)} has no runtime twin`,
    ).toBeDefined();
    checked++;
  });
  expect(checked, `${label}: the fixture has detections to check`).toBeGreaterThan(0);
}
