/**
 * Exported RT-DETR packages in Node: onnxruntime-web (wasm) for the graphs and the ms_deform_attn_rt WASM kernel
 * between them, against the PyTorch outputs (logits <= 1e-3, boxes <= 1e-4; queries whose selection tied are
 * compared as a set). Small synthetic r18vd models at 96x128 (the official size is 640x640; the graphs are the
 * same code at any size divisible by 32).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { readPackageGraphs } from '../helpers/package-graphs';
import {
  compareQueries,
  RTDETR_TOLERANCE as TOLERANCE,
  type RtdetrFixture,
  type RtdetrVariant,
  rtdetrFixture,
} from '../helpers/rtdetr-fixture';
import { readFloat32File, readNpyFloat32 } from './npy';

async function runPackage(fixture: RtdetrFixture, pipeline: string) {
  const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
  expect(manifest.model.family).toBe('rt-detr');
  const runner = await createCpuPackageRunner({
    manifest,
    graphs: await readPackageGraphs(fixture.dir, manifest, [pipeline]),
    pipelines: [pipeline],
  });
  try {
    const policy = manifest.input.sizePolicy as { height: number; width: number };
    const started = performance.now();
    const { outputs, stages } = await runner.run(pipeline, {
      image: { data: readFloat32File(fixture.image), dims: [1, 3, policy.height, policy.width] },
    });
    const ms = performance.now() - started;
    const logits = outputs[manifest.output.logits];
    const boxes = outputs[manifest.output.boxes];
    if (logits === undefined || boxes === undefined) throw new Error('no logits / boxes');
    const wantLogits = readNpyFloat32(fixture.expected_logits);
    const wantBoxes = readNpyFloat32(fixture.expected_boxes);
    expect([...logits.dims]).toEqual(wantLogits.shape);
    const classes = wantLogits.shape[2] ?? 1;
    const diff = compareQueries(logits.data as Float32Array, boxes.data as Float32Array, wantLogits.data, wantBoxes.data, classes);
    return { ...diff, ms, kernels: stages.filter((s) => s.kind === 'msDeformAttnRt').length };
  } finally {
    await runner.dispose();
  }
}

const cases: Array<[RtdetrVariant, string[]]> = [
  ['v2', ['detect', 'detect_single_graph']],
  ['v2-discrete', ['detect']],
  ['v1', ['detect']],
];

describe.each(cases)('exported RT-DETR %s package (synthetic r18vd, 96x128) in Node', (variant, pipelines) => {
  it(`${pipelines.join(' + ')} match PyTorch`, async () => {
    const fixture = rtdetrFixture(variant, { singleGraph: pipelines.includes('detect_single_graph') });
    if (fixture.official_logits !== undefined) {
      console.log(`rtdetr ${variant}: ours vs official PyTorch: logits ${fixture.official_logits}, boxes ${fixture.official_boxes}`);
    }
    for (const pipeline of pipelines) {
      const diff = await runPackage(fixture, pipeline);
      console.log(
        `rtdetr ${variant} ${pipeline} (wasm): max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}${diff.asSet ? ' (as a set)' : ''}, ${diff.kernels} kernel calls, ${(diff.ms / 1000).toFixed(2)} s`,
      );
      expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
      expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      if (pipeline === 'detect') expect(diff.kernels).toBe(2);
    }
  }, 600_000);
});
