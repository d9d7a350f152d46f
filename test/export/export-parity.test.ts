/**
 * Exported packages, executed in Node (onnxruntime-web wasm + the TypeScript deformable-attention
 * reference between graphs), against the official PyTorch outputs in ../shared/reference.
 * Exports are cached in node_modules/.cache/webdetr-export keyed by the exporter sources.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/model/manifest';
import { createCpuPackageRunner } from '../../src/model/package-runner-cpu';
import { readPackageGraphs } from '../helpers/package-graphs';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from './npy';

const CACHE = 'node_modules/.cache/webdetr-export';
const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };

interface Fixture {
  dir: string;
  image: string;
  expected_logits: string;
  expected_boxes: string;
}

function exportFixture(variant: string, options: string[] = []): Fixture {
  const started = Date.now();
  const stdout = execFileSync('/usr/bin/python3', ['tools/export_parity_fixture.py', '--variant', variant, '--cache', CACHE, ...options], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  console.log(`${variant} ${options.join(' ')}: package ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Fixture;
}

async function runPackage(fixture: Fixture, pipeline: string): Promise<{ logits: number; boxes: number; ms: number }> {
  const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
  const runner = await createCpuPackageRunner({ manifest, graphs: await readPackageGraphs(fixture.dir, manifest, [pipeline]), pipelines: [pipeline] });
  try {
    const { height, width } = manifest.input.sizePolicy;
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

const VARIANTS = ['deformable_plain', 'deformable_refine', 'deformable_two_stage'];

describe('exported Deformable-DETR packages match the official PyTorch outputs', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: split graphs + TS kernel and single graph`, async () => {
      const fixture = exportFixture(variant);
      for (const pipeline of ['detect', 'detect_single_graph']) {
        const diff = await runPackage(fixture, pipeline);
        console.log(`${variant} ${pipeline}: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}, run ${(diff.ms / 1000).toFixed(1)} s`);
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      }
    }, 900_000);
  }
});

/**
 * Configurations without official outputs (single-scale, other widths/heads/points/layer counts,
 * 3 levels, a fine-tuned UP-DETR detector): expected outputs from our PyTorch reference model, which equals the official code on
 * the four reference variants (tools/tests/test_reference_forward.py).
 */
const DERIVED = ['single-scale-small', 'refine-3-levels-small', 'updetr-detection-small'];

describe('exported packages of derived configurations match our PyTorch reference', () => {
  for (const derived of DERIVED) {
    it(`${derived}: split graphs + TS kernel and single graph`, async () => {
      const fixture = exportFixture('deformable_plain', ['--derived', derived]);
      const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
      if (derived.startsWith('single-scale')) expect(manifest.model.singleScale).toBe(true);
      if (derived.startsWith('updetr')) expect(manifest.model).toMatchObject({ family: 'up-detr', variant: 'detection' });
      for (const pipeline of ['detect', 'detect_single_graph']) {
        const diff = await runPackage(fixture, pipeline);
        console.log(`${derived} ${pipeline}: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}`);
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);
      }
    }, 900_000);
  }
});

describe('fp16-weights package (fp32 compute)', () => {
  it('deformable_plain: measured accuracy cost stays small', async () => {
    const fixture = exportFixture('deformable_plain', ['--fp16', '--no-single-graph']);
    const diff = await runPackage(fixture, 'detect');
    console.log(`deformable_plain fp16 detect: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}`);
    // fp16 weights round every weight to ~3 significant digits: a measured cost, bounded loosely.
    expect(diff.logits).toBeLessThanOrEqual(0.1);
    expect(diff.boxes).toBeLessThanOrEqual(0.02);
  }, 900_000);
});
