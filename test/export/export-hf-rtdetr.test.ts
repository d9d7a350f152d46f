/**
 * Hugging Face RT-DETR checkpoints end to end in Node: small synthetic RTDetrForObjectDetection /
 * RTDetrV2ForObjectDetection checkpoints (tools/tests/fixtures/hf_rtdetr, written by tools/hf_rtdetr_case.py) go
 * through `npm run export` (format and architecture from config.json, size 64x64 and pixel transform from
 * preprocessor_config.json), and the package's split graphs + the ms_deform_attn_rt WASM kernel (onnxruntime-web
 * wasm) give the outputs the transformers modeling code recorded for them (logits <= 1e-3, boxes <= 1e-4; queries
 * whose selection tied compared as a set); the runtime's post-processing gives RTDetrImageProcessor's
 * post_process_object_detection detections (top num_queries over queries x classes, boxes in the picture's pixels).
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
import { compareQueries, RTDETR_TOLERANCE as TOLERANCE } from '../helpers/rtdetr-fixture';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from './npy';

const work = mkdtempSync(join(tmpdir(), 'webdetr-hf-rtdetr-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface CaseFiles {
  checkpoint: string;
  weights: string;
  image: string;
  image_shape: number[];
  target_size: [number, number];
  logits: string;
  pred_boxes: string;
  scores: string;
  labels: string;
  boxes: string;
}

function prepare(name: string, entry: 'directory' | 'weights'): { files: CaseFiles; pkg: string } {
  const out = join(work, name);
  const stdout = execFileSync('/usr/bin/python3', ['tools/hf_rtdetr_case.py', '--case', name, '--out', out], { encoding: 'utf8' });
  const files = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as CaseFiles;
  const pkg = join(out, 'package');
  const source = entry === 'directory' ? files.checkpoint : join(files.checkpoint, files.weights);
  execFileSync('npm', ['run', '--silent', 'export', '--', source, '--out', pkg, '--no-single-graph'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { files, pkg };
}

const cases = [
  ['v2', 'directory', 'v2'],
  ['v2-discrete', 'weights', 'v2'],
  ['v1', 'weights', 'v1'],
] as const;

describe('Hugging Face RT-DETR checkpoints exported with npm run export equal the Hugging Face outputs', () => {
  for (const [name, entry, variant] of cases) {
    it(`${name} (${entry === 'directory' ? 'checkpoint directory' : 'weights file'})`, async () => {
      const { files, pkg } = prepare(name, entry);
      const manifest = parseManifest(JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8')));
      expect(manifest.model).toMatchObject({ family: 'rt-detr', variant, source: { format: 'huggingface' } });
      expect(manifest.output.classNames).toEqual(['person', 'bicycle', 'car', 'dog', 'kite']);
      expect(manifest.input.sizePolicy).toEqual({ kind: 'fixed', height: 64, width: 64 });
      const runner = await createCpuPackageRunner({
        manifest,
        graphs: await readPackageGraphs(pkg, manifest, ['detect']),
        pipelines: ['detect'],
      });
      try {
        const { outputs, stages } = await runner.run('detect', {
          image: { data: readFloat32File(files.image), dims: files.image_shape },
        });
        const logits = outputs[manifest.output.logits];
        const boxes = outputs[manifest.output.boxes];
        if (logits === undefined || boxes === undefined) throw new Error('pipeline gave no logits/boxes');
        const wantLogits = readNpyFloat32(files.logits);
        const wantBoxes = readNpyFloat32(files.pred_boxes);
        expect([...logits.dims]).toEqual(wantLogits.shape);
        const [, queries, classes] = wantLogits.shape as [number, number, number];
        const diff = compareQueries(logits.data as Float32Array, boxes.data as Float32Array, wantLogits.data, wantBoxes.data, classes);
        console.log(
          `HF rtdetr ${name} 64x64 split graphs + ${stages.filter((s) => s.kind === 'msDeformAttnRt').length} kernel calls (wasm) vs the Hugging Face code: max |logits| ${diff.logits.toExponential(2)}, max |boxes| ${diff.boxes.toExponential(2)}${diff.asSet ? ' (as a set)' : ''}`,
        );
        expect(diff.logits).toBeLessThanOrEqual(TOLERANCE.logits);
        expect(diff.boxes).toBeLessThanOrEqual(TOLERANCE.boxes);

        // post-processing: the runtime's top-k (k = the manifest's topK = num_queries) over queries x classes equals
        // RTDetrImageProcessor.post_process_object_detection on the same outputs
        expect(manifest.output.topK).toBe(queries);
        const [height, width] = files.target_size;
        const detections = postprocessSigmoidTopK(
          wantLogits.data,
          wantBoxes.data,
          queries,
          classes,
          { width, height },
          manifest.output.topK ?? queries,
        );
        const scores = readNpyFloat32(files.scores).data;
        const labels = readNpyFloat32(files.labels).data;
        const corners = readNpyFloat32(files.boxes).data;
        expect(detections.length).toBe(queries);
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
