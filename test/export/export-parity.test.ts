/**
 * Exported packages, executed in Node (onnxruntime-web wasm + the TypeScript deformable-attention
 * reference between graphs). Which package covers which claim:
 * - deformable_plain, deformable_two_stage at full size (384x512), split graphs and (plain; two-stage
 *   with WEBDETR_TWO_STAGE_SINGLE_GRAPH=1) the single graph: equal to the official PyTorch outputs in
 *   ../shared/reference (the plain package is also the one
 *   test/worker/engine-wasm.test.ts runs; UP-DETR's full-size package is in export-parity-updetr.test.ts).
 * - deformable_refine, the derived configurations and the fp16-weights check: the 64x96 split-only
 *   packages the browser tests share (test/helpers/export-fixture.ts smallFixture), against our PyTorch
 *   reference model on that input, which equals the official code on every reference variant
 *   (tools/tests/test_reference_forward.py). The single-graph export path is the same code for every
 *   variant and is covered by the full-size packages above.
 * Exports are cached in node_modules/.cache/webdetr-export keyed by the exporter sources.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { fixedInputSize } from '../../src/package/size-policy';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import {
  exportFixture,
  smallFixture,
  twoStageFixture,
  TWO_STAGE_SINGLE_GRAPH,
  type ExportFixture as Fixture,
} from '../helpers/export-fixture';
import { readPackageGraphs } from '../helpers/package-graphs';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from './npy';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };

async function runPackage(fixture: Fixture, pipeline: string): Promise<{ logits: number; boxes: number; ms: number }> {
  const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
  const runner = await createCpuPackageRunner({
    manifest,
    graphs: await readPackageGraphs(fixture.dir, manifest, [pipeline]),
    pipelines: [pipeline],
  });
  try {
    const { height, width } = fixedInputSize(manifest.input.sizePolicy, 'this test');
    const started = performance.now();
    const { outputs: out } = await runner.run(pipeline, { image: { data: readFloat32File(fixture.image), dims: [1, 3, height, width] } });
    const ms = performance.now() - started;
    const logits = out[manifest.output.logits];
    const boxes = out[manifest.output.boxes];
    if (logits === undefined || boxes === undefined) throw new Error('pipeline gave no logits/boxes');
    const expectedLogits = readNpyFloat32(fixture.expected_logits);
    const expectedBoxes = readNpyFloat32(fixture.expected_boxes);
    expect([...logits.dims]).toEqual(expectedLogits.shape);
    expect([...boxes.dims]).toEqual(expectedBoxes.shape);
    return { logits: maxAbsDiff(logits.data, expectedLogits.data), boxes: maxAbsDiff(boxes.data, expectedBoxes.data), ms };
  } finally {
    await runner.dispose();
  }
}

async function expectParity(label: string, fixture: Fixture, pipelines: string[]): Promise<void> {
  for (const pipeline of pipelines) {
    const diff = await runPackage(fixture, pipeline);
    console.log(
      `${label} ${pipeline}: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}, run ${(diff.ms / 1000).toFixed(1)} s`,
    );
    expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
    expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
  }
}

describe('exported Deformable-DETR packages match the official PyTorch outputs (full size)', () => {
  it('deformable_plain: split graphs + wasm kernel and single graph', async () => {
    await expectParity('deformable_plain', exportFixture('deformable_plain'), ['detect', 'detect_single_graph']);
  }, 900_000);
  it(`deformable_two_stage: split graphs + wasm kernel${TWO_STAGE_SINGLE_GRAPH ? ' and single graph' : ' (single graph: WEBDETR_TWO_STAGE_SINGLE_GRAPH=1)'}`, async () => {
    await expectParity('deformable_two_stage', twoStageFixture(), TWO_STAGE_SINGLE_GRAPH ? ['detect', 'detect_single_graph'] : ['detect']);
  }, 900_000);
});

describe('64x96 split-only packages match our PyTorch reference', () => {
  it('deformable_refine: split graphs + wasm kernel', async () => {
    await expectParity('deformable_refine 64x96', smallFixture('deformable_refine'), ['detect']);
  }, 900_000);

  /**
   * Configurations without official outputs (single-scale, other widths/heads/points/layer counts,
   * 3 levels, a fine-tuned UP-DETR detector).
   */
  for (const derived of ['single-scale-small', 'refine-3-levels-small', 'updetr-detection-small']) {
    it(`${derived}: split graphs + wasm kernel`, async () => {
      const fixture = smallFixture('deformable_plain', { derived });
      const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
      if (derived.startsWith('single-scale')) expect(manifest.model.singleScale).toBe(true);
      if (derived.startsWith('updetr')) expect(manifest.model).toMatchObject({ family: 'up-detr', variant: 'detection' });
      await expectParity(`${derived} 64x96`, fixture, ['detect']);
    }, 900_000);
  }
});

describe('fp16-weights package (fp32 compute)', () => {
  it('deformable_plain 64x96: measured accuracy cost stays small', async () => {
    const fixture = smallFixture('deformable_plain', { fp16: true });
    const diff = await runPackage(fixture, 'detect');
    console.log(
      `deformable_plain 64x96 fp16 detect: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}`,
    );
    // fp16 weights round every weight to ~3 significant digits: a measured cost, bounded loosely.
    expect(diff.logits).toBeLessThanOrEqual(0.1);
    expect(diff.boxes).toBeLessThanOrEqual(0.02);
  }, 900_000);
});
