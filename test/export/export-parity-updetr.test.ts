/**
 * Exported UP-DETR pretrain package, executed in Node (onnxruntime-web wasm), against the official
 * PyTorch outputs in ../shared/reference/updetr_pretrain (2 query patches -> 20 queries).
 * Pipelines: "image" (encoder) then "patches" (after "image": patch queries + decoder), and the single graph.
 * The patch count is a dynamic axis: one patch must give the first group of 10 queries of the two-patch
 * reference, since the block-diagonal group mask keeps groups independent.
 * Exports are cached in node_modules/.cache/webdetr-export keyed by the exporter and model sources.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { fixedInputSize } from '../../src/package/size-policy';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { exportFixture, type ExportFixture } from '../helpers/export-fixture';
import { readPackageGraphs } from '../helpers/package-graphs';
import type { HostTensor } from '../../src/runtime/package-runner-cpu';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from './npy';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
const PATCH = 3 * 128 * 128;

type Fixture = ExportFixture & { patches: string };

/** The full-size package (its expected outputs are the official ones), shared with engine-wasm.test.ts and the CLI spec. */
function updetrFixture(): Fixture {
  const fixture = exportFixture('updetr_pretrain');
  if (fixture.patches === undefined) throw new Error('the UP-DETR fixture has no patches');
  return { ...fixture, patches: fixture.patches };
}

function compare(out: Record<string, HostTensor>, rows: number, label: string, fixture: Fixture): { logits: number; boxes: number } {
  const logits = out.pred_logits;
  const boxes = out.pred_boxes;
  if (logits === undefined || boxes === undefined) throw new Error(`${label}: no logits/boxes`);
  const expectedLogits = readNpyFloat32(fixture.expected_logits);
  const expectedBoxes = readNpyFloat32(fixture.expected_boxes);
  expect([...logits.dims]).toEqual([1, rows, expectedLogits.shape[2]]);
  expect([...boxes.dims]).toEqual([1, rows, 4]);
  const diff = {
    logits: maxAbsDiff(logits.data, expectedLogits.data.subarray(0, rows * (expectedLogits.shape[2] ?? 0))),
    boxes: maxAbsDiff(boxes.data, expectedBoxes.data.subarray(0, rows * 4)),
  };
  console.log(`updetr_pretrain ${label}: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}`);
  return diff;
}

describe('exported UP-DETR pretrain package matches the official PyTorch outputs', () => {
  it('image then patches pipelines (2 patches and 1 patch), and the single graph', async () => {
    const fixture = updetrFixture();
    const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
    expect(manifest.model).toMatchObject({ family: 'up-detr', variant: 'pretrain' });
    expect(manifest.output.classActivation).toBe('softmax');
    expect(manifest.pipelines.find((p) => p.name === 'patches')?.after).toBe('image');
    const { height, width } = fixedInputSize(manifest.input.sizePolicy, 'this test');
    const image: HostTensor = { data: readFloat32File(fixture.image), dims: [1, 3, height, width] };
    const patches: HostTensor = { data: readFloat32File(fixture.patches), dims: [1, 2, 3, 128, 128] };
    const onePatch: HostTensor = { data: patches.data.subarray(0, PATCH), dims: [1, 1, 3, 128, 128] };

    const split = await createCpuPackageRunner({
      manifest,
      graphs: await readPackageGraphs(fixture.dir, manifest, ['image', 'patches']),
      pipelines: ['image', 'patches'],
    });
    try {
      let started = performance.now();
      await split.run('image', { image });
      const imageMs = performance.now() - started;
      started = performance.now();
      const two = compare((await split.run('patches', { patches })).outputs, 20, 'split, 2 patches', fixture);
      const patchesMs = performance.now() - started;
      // the image encoding stays alive: a new patch set re-runs only the patch pipeline
      const one = compare((await split.run('patches', { patches: onePatch })).outputs, 10, 'split, 1 patch (dynamic K)', fixture);
      console.log(`updetr_pretrain wasm: image ${(imageMs / 1000).toFixed(1)} s, patches ${(patchesMs / 1000).toFixed(1)} s`);
      for (const diff of [two, one]) {
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      }
    } finally {
      await split.dispose();
    }

    const single = await createCpuPackageRunner({
      manifest,
      graphs: await readPackageGraphs(fixture.dir, manifest, ['detect_single_graph']),
      pipelines: ['detect_single_graph'],
    });
    try {
      const two = compare((await single.run('detect_single_graph', { image, patches })).outputs, 20, 'single graph, 2 patches', fixture);
      const one = compare(
        (await single.run('detect_single_graph', { image, patches: onePatch })).outputs,
        10,
        'single graph, 1 patch',
        fixture,
      );
      for (const diff of [two, one]) {
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      }
    } finally {
      await single.dispose();
    }
  }, 900_000);
});
