/**
 * Hugging Face checkpoints end to end in Node: a tiny synthetic Hugging Face Deformable-DETR checkpoint
 * (tools/tests/fixtures/hf_deformable, written by tools/hf_fixture_case.py) goes through `npm run export`
 * (format detected from the files), and the package's split graphs + the TypeScript deformable-attention
 * reference (onnxruntime-web wasm) give the outputs the Hugging Face modeling code recorded for it; the
 * runtime's post-processing gives Hugging Face's post_process_object_detection detections.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { postprocessSigmoidTopK } from '../../src/postprocess/postprocess';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { readPackageGraphs } from '../helpers/package-graphs';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from './npy';

const TOLERANCE = { logits: 1e-3, boxes: 1e-4 };
const work = mkdtempSync(join(tmpdir(), 'webdetr-hf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface CaseFiles {
  checkpoint: string;
  image: string;
  image_shape: number[];
  target_size: [number, number];
  logits: string;
  pred_boxes: string;
  scores: string;
  labels: string;
  boxes: string;
}

function prepare(name: string, entry: string): { files: CaseFiles; pkg: string } {
  const out = join(work, name);
  const stdout = execFileSync('/usr/bin/python3', ['tools/hf_fixture_case.py', '--case', name, '--out', out], { encoding: 'utf8' });
  const files = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as CaseFiles;
  const pkg = join(out, 'package');
  execFileSync(
    'npm',
    [
      'run',
      '--silent',
      'export',
      '--',
      join(files.checkpoint, entry),
      '--out',
      pkg,
      '--height',
      '64',
      '--width',
      '96',
      '--no-single-graph',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return { files, pkg };
}

describe('Hugging Face checkpoints exported with npm run export equal the Hugging Face outputs', () => {
  for (const [name, entry] of [
    ['two-stage', ''],
    ['box-refine', 'pytorch_model.bin'],
  ] as const) {
    it(`${name} (${entry === '' ? 'checkpoint directory' : entry})`, async () => {
      const { files, pkg } = prepare(name, entry);
      const manifest = parseManifest(JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8')));
      expect(manifest.model).toMatchObject({ family: 'deformable-detr', variant: name, source: { format: 'huggingface' } });
      expect(manifest.output.classNames).toEqual(['N/A', 'cat', 'dog', 'remote', 'couch', 'kite', 'bench']);
      const runner = await createCpuPackageRunner({
        manifest,
        graphs: await readPackageGraphs(pkg, manifest, ['detect']),
        pipelines: ['detect'],
      });
      try {
        const { outputs } = await runner.run('detect', { image: { data: readFloat32File(files.image), dims: files.image_shape } });
        const logits = outputs[manifest.output.logits];
        const boxes = outputs[manifest.output.boxes];
        if (logits === undefined || boxes === undefined) throw new Error('pipeline gave no logits/boxes');
        const expectedLogits = readNpyFloat32(files.logits);
        const expectedBoxes = readNpyFloat32(files.pred_boxes);
        expect([...logits.dims]).toEqual(expectedLogits.shape);
        const diff = { logits: maxAbsDiff(logits.data, expectedLogits.data), boxes: maxAbsDiff(boxes.data, expectedBoxes.data) };
        console.log(
          `HF ${name} 64x96 split graphs vs Hugging Face code: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}`,
        );
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);

        // post-processing: the runtime's top-100 over queries x classes equals HF's post_process_object_detection
        const [height, width] = files.target_size;
        const [, queries, classes] = expectedLogits.shape as [number, number, number];
        const detections = postprocessSigmoidTopK(expectedLogits.data, expectedBoxes.data, queries, classes, { width, height }, 100);
        const scores = readNpyFloat32(files.scores).data;
        const labels = readNpyFloat32(files.labels).data;
        const corners = readNpyFloat32(files.boxes).data;
        expect(detections.length).toBe(100);
        detections.forEach((d, i) => {
          expect(d.classId).toBe(labels[i]);
          expect(Math.abs(d.score - (scores[i] ?? NaN))).toBeLessThanOrEqual(1e-6);
          const box = [d.box.x, d.box.y, d.box.x + d.box.width, d.box.y + d.box.height];
          expect(maxAbsDiff(box, corners.subarray(i * 4, i * 4 + 4))).toBeLessThanOrEqual(1e-3);
        });
      } finally {
        await runner.dispose();
      }
    }, 300_000);
  }
});
