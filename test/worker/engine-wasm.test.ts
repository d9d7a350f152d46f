/**
 * The detector engine end to end on the WASM backend in Node: manifest URL -> backend choice -> graph
 * download -> PIL-bilinear preprocessing of the reference PNG -> onnxruntime-web -> post-processing.
 * Raw outputs must match the official PyTorch outputs in ../shared/reference (the reference image is
 * already the model's 512x384 input size, so preprocessing is the official normalization).
 * Tolerances: logits 1e-3, boxes 1e-4 abs (issue 5).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError, InputError, WebGpuUnavailableError } from '../../src/errors';
import { DetectorEngine } from '../../src/worker/engine';
import { exportFixture } from '../helpers/export-fixture';
import { decodePng } from '../../cli/node/png';
import { serveDirectories, type StaticServer } from '../helpers/static-server';
import { maxAbsDiff, readNpyFloat32 } from '../export/npy';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
const shared = '../shared/reference';
const pixels = decodePng(readFileSync(`${shared}/image.png`));

let server: StaticServer;
const fixtures = {
  plain: exportFixture('deformable_plain'),
  updetr: exportFixture('updetr_pretrain'),
};

beforeAll(async () => {
  server = await serveDirectories({ plain: fixtures.plain.dir, updetr: fixtures.updetr.dir });
});
afterAll(async () => {
  await server.close();
});

describe('DetectorEngine on WASM (Node)', () => {
  it('backend auto without WebGPU picks WASM and says why; forcing webgpu is a typed error', async () => {
    await expect(
      DetectorEngine.create({ model: `${server.base}plain/`, backend: 'webgpu', gpu: undefined, cache: false }),
    ).rejects.toBeInstanceOf(WebGpuUnavailableError);
  });

  it('Deformable-DETR: raw outputs match the official PyTorch outputs; detections are in source pixels', async () => {
    const engine = await DetectorEngine.create({ model: `${server.base}plain/`, gpu: undefined, cache: false });
    try {
      expect(engine.backend.name).toBe('wasm');
      expect(engine.backend.reason).toMatch(/navigator\.gpu is undefined/);
      expect(engine.model).toMatchObject({
        family: 'deformable-detr',
        detection: true,
        oneShot: false,
        inputSize: { width: 512, height: 384 },
      });
      // WASM runs the split pipeline with the WebAssembly kernel: the single graph is not even downloaded.
      const downloaded = server.requests.filter((r) => r.startsWith('/plain/') && r.endsWith('.onnx'));
      expect(downloaded).toContain('/plain/encoder_input.onnx');
      expect(downloaded).not.toContain('/plain/single_graph.onnx');
      const result = await engine.detect(pixels, { raw: true, threshold: 0, maxDetections: 300 });
      const expectedLogits = readNpyFloat32(fixtures.plain.expected_logits);
      const expectedBoxes = readNpyFloat32(fixtures.plain.expected_boxes);
      expect(result.raw?.logitsDims).toEqual(expectedLogits.shape);
      const logitsDiff = maxAbsDiff(result.raw?.logits ?? [], expectedLogits.data);
      const boxesDiff = maxAbsDiff(result.raw?.boxes ?? [], expectedBoxes.data);
      console.log(
        `engine wasm deformable_plain: logits ${logitsDiff.toExponential(2)}, boxes ${boxesDiff.toExponential(2)}, ${result.timings.total.toFixed(0)} ms`,
      );
      expect(logitsDiff).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(boxesDiff).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(result.detections).toHaveLength(100); // the manifest's top-k, threshold 0
      const scores = result.detections.map((d) => d.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      const top = result.detections[0];
      // Box of the top query, by hand from the raw outputs: (cx - w/2) * image width.
      const query = Math.floor(
        Array.from(result.raw?.logits ?? []).reduce((best, v, i, all) => (v > (all[best] ?? -Infinity) ? i : best), 0) /
          (expectedLogits.shape[2] ?? 1),
      );
      const [cx = 0, , w = 0] = Array.from(result.raw?.boxes.subarray(query * 4, query * 4 + 4) ?? []);
      expect(top?.box.x).toBeCloseTo((cx - w / 2) * pixels.width, 3);
      expect(result.timings.model).toBeGreaterThan(0);
      expect(result.timings.stages.filter((s) => s.kind === 'msDeformAttn')).toHaveLength(12); // 6 encoder + 6 decoder layers
      // Thresholds and class filters are applied after the model.
      const filtered = await engine.detect(pixels, { threshold: 0.05, classes: [top?.label ?? ''] });
      expect(filtered.detections.every((d) => d.label === top?.label && d.score >= 0.05)).toBe(true);
      await expect(engine.detectWithPatches(pixels, [{ x: 0, y: 0, width: 10, height: 10 }])).rejects.toBeInstanceOf(InputError);
      await expect(engine.detect({ data: new Uint8Array(0), width: 0, height: 0 })).rejects.toBeInstanceOf(InputError);
      await expect(engine.detect(pixels, { threshold: 2 })).rejects.toBeInstanceOf(InputError);
      // The engine still works after bad calls.
      expect((await engine.detect(pixels, { threshold: 0.05 })).detections.length).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
    await expect(engine.detect(pixels)).rejects.toBeInstanceOf(DisposedError);
  }, 300_000);

  it('UP-DETR one-shot: patches match the official outputs; a re-query on a prepared image skips the image encoder', async () => {
    const engine = await DetectorEngine.create({ model: `${server.base}updetr/manifest.json`, gpu: undefined, cache: false });
    try {
      expect(engine.model).toMatchObject({ family: 'up-detr', oneShot: true, detection: false, maxPatches: 10 });
      const boxes = (JSON.parse(readFileSync(`${shared}/updetr_pretrain/patches.json`, 'utf8')) as { patch_boxes_xyxy: number[][] })
        .patch_boxes_xyxy;
      const patches = boxes.map(([x0 = 0, y0 = 0, x1 = 0, y1 = 0]) => ({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }));
      const image = engine.prepareImage(pixels);
      const first = await engine.detectWithPatches(image.id, patches, { raw: true, threshold: 0 });
      expect(first.reusedImageFeatures).toBe(false);
      const logitsDiff = maxAbsDiff(first.raw?.logits ?? [], readNpyFloat32(fixtures.updetr.expected_logits).data);
      const boxesDiff = maxAbsDiff(first.raw?.boxes ?? [], readNpyFloat32(fixtures.updetr.expected_boxes).data);
      console.log(
        `engine wasm updetr_pretrain: logits ${logitsDiff.toExponential(2)}, boxes ${boxesDiff.toExponential(2)}, ${first.timings.total.toFixed(0)} ms`,
      );
      expect(logitsDiff).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(boxesDiff).toBeLessThanOrEqual(TOLERANCE.boxes);
      expect(first.patches.map((p) => p.detections.length)).toEqual([10, 10]); // 10 queries per patch, threshold 0

      const encoderRuns = engine.counters.perGraph.image_encoder;
      const again = await engine.detectWithPatches(image.id, patches.slice(0, 1), { raw: true, threshold: 0 });
      expect(again.reusedImageFeatures).toBe(true);
      expect(engine.counters.perGraph.image_encoder).toBe(encoderRuns);
      // Groups are independent (block-diagonal mask): patch 1 alone = the first query group of the pair.
      expect(maxAbsDiff(again.raw?.logits ?? [], first.raw?.logits.subarray(0, 30) ?? [])).toBeLessThan(1e-4);
      expect(again.timings.stages.map((s) => s.stage)).toEqual(['patch_queries', 'patch_decoder']);

      for (const bad of [
        [],
        Array.from({ length: 11 }, () => patches[0]),
        [{ x: 5, y: 5, width: 0, height: 10 }],
        [{ x: 900, y: 5, width: 10, height: 10 }],
        [{ x: Number.NaN, y: 0, width: 1, height: 1 }],
      ]) {
        await expect(engine.detectWithPatches(image.id, bad as typeof patches)).rejects.toBeInstanceOf(InputError);
      }
      await expect(engine.detect(image.id)).rejects.toThrow(/detectWithPatches/);
      await expect(engine.detectWithPatches(12345, patches)).rejects.toBeInstanceOf(InputError);
      // Zoomed search needs a box package that has it: asking for it here is an error, not a silent no-op.
      expect(engine.model.zoom).toBeUndefined();
      await expect(engine.detectWithPatches(image.id, patches, { zoom: true })).rejects.toThrow(/no zoomed search/);
      expect((await engine.detectWithPatches(image.id, patches, { zoom: false })).patches.map((p) => p.views)).toEqual([1, 1]);
    } finally {
      await engine.dispose();
    }
  }, 300_000);
});
