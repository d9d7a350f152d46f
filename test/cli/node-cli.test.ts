/**
 * `webdetr detect` on its default path, WASM in Node without a browser: the real bin/webdetr.mjs in a
 * child process with the shipped detector (public/models/detector) and a batch with bad images in
 * the middle. `--chromium` points nowhere, so a browser would fail: none is started. The browser path
 * (`--backend webgpu`) and the --raw parity runs are in e2e/cli.spec.ts.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boxIou } from '../../src/postprocess/merge-views';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function webdetr(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/webdetr.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const work = mkdtempSync(join(tmpdir(), 'webdetr-node-cli-'));
const photo = join(work, 'photo.png');
copyFileSync('test/fixtures/shipped/detector/input.png', photo);
const notAnImage = join(work, 'notes.jpg');
writeFileSync(notAnImage, 'this is text, not a JPEG');
const missing = join(work, 'missing.jpg');
const brokenJpeg = join(work, 'broken.jpg');
writeFileSync(brokenJpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1, 2, 3]));
const model = 'public/models/detector';
// Without --threshold the CLI uses the package's suggested one.
const suggested = (JSON.parse(readFileSync(`${model}/manifest.json`, 'utf8')) as { output: { scoreThreshold: number } }).output
  .scoreThreshold;
const noBrowser = ['--chromium', join(work, 'no-chromium-here')];

interface Outcome {
  image: string;
  imageSize?: { width: number; height: number };
  detections?: { box: { x: number; y: number; width: number; height: number }; score: number; label: string }[];
  backend?: { name: string };
  error?: { code: string; name: string; message: string; stage: string };
}

describe('webdetr detect in Node (WASM, no browser)', () => {
  it('--jsonl: one parseable line per image in order; bad images reported with codes, the rest finish; exit 1; boxes inside the picture', async () => {
    const run = await webdetr([
      'detect',
      photo,
      notAnImage,
      missing,
      brokenJpeg,
      photo,
      '--model',
      model,
      '--threshold',
      '0',
      '--max-detections',
      '100',
      '--jsonl',
      ...noBrowser,
    ]);
    expect(run.status, run.stderr).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    const outcomes = lines.map((line) => JSON.parse(line) as Outcome);
    expect(outcomes.map((o) => o.image)).toEqual([photo, notAnImage, missing, brokenJpeg, photo]);
    expect(outcomes[1]?.error).toMatchObject({
      code: 'invalid-input',
      stage: 'image',
      message: expect.stringMatching(/not a JPEG or PNG file/),
    });
    expect(outcomes[2]?.error).toMatchObject({ code: 'image-read', stage: 'image', message: expect.stringMatching(/no such file/) });
    // Decoded on the worker thread: libjpeg's own message comes back.
    expect(outcomes[3]?.error).toMatchObject({
      code: 'invalid-input',
      stage: 'image',
      message: expect.stringMatching(/^could not decode the JPEG: .+/),
    });
    for (const outcome of [outcomes[0], outcomes[4]]) {
      expect(outcome?.backend?.name).toBe('wasm');
      const { width, height } = outcome?.imageSize ?? { width: 0, height: 0 };
      const detections = outcome?.detections ?? [];
      // The top-100 less the package's duplicate suppression (output.duplicateIou 0.7): no two boxes of one
      // class overlap above it (85 remain on this picture).
      expect(detections.length).toBeGreaterThan(50);
      expect(detections.length).toBeLessThan(100);
      const corners = ({ box: b }: (typeof detections)[number]) => [b.x, b.y, b.x + b.width, b.y + b.height] as const;
      detections.forEach((a, i) => {
        for (const b of detections.slice(i + 1)) if (a.label === b.label) expect(boxIou(corners(a), corners(b))).toBeLessThanOrEqual(0.7);
      });
      for (const { box } of detections) {
        expect(Math.min(box.x, box.y, box.width, box.height)).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(width + 1e-9);
        expect(box.y + box.height).toBeLessThanOrEqual(height + 1e-9);
      }
    }
    // The same picture twice: the same detections (nothing carried over from the failures between).
    expect(outcomes[4]?.detections).toEqual(outcomes[0]?.detections);
    // JSON lines keep stdout to the images: the header and the failure summary are on stderr.
    expect(run.stderr).toMatch(/^backend: wasm \(WASM \(onnxruntime-web, \d+ threads?\); --backend auto in Node: Node has no WebGPU/m);
    expect(run.stderr).toContain('webdetr: 3 of 5 images failed:');
    expect(run.stderr).toMatch(
      /webdetr: 5 images \(3 failed\) in \d+\.\d s: model load \d+\.\d s, detection \d+\.\d s \(\d+\.\d\d s\/image\), the rest \d+\.\d s; peak RSS \d+ MB/,
    );
    expect(run.stderr).toContain(`${missing}: ImageReadError [image-read]`);
    expect(run.stderr).not.toContain('backend: "');
  }, 300_000);

  it('table: the header first even when the first image is bad; "none" names the threshold and the best score; --json keeps one document', async () => {
    const run = await webdetr(['detect', notAnImage, photo, '--model', model, '--threshold', '0.99', '--backend', 'wasm', ...noBrowser]);
    expect(run.status, run.stderr).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('model: deformable-detr two-stage, input 300x300, 80 classes');
    expect(lines[1]).toMatch(/^backend: wasm \(WASM .*--backend wasm: runs in Node, without a browser\)$/);
    expect(lines[2]).toBe('threshold: 0.99; boxes are clamped to the picture');
    expect(run.stdout).toContain(`\n${notAnImage}: reading failed: InputError [invalid-input]: not a JPEG or PNG file`);
    expect(run.stdout).toMatch(
      new RegExp(
        `${photo.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(\\d+x\\d+, wasm, \\d+ ms\\)\\n  \\(no detections at or above the threshold 0\\.99; the best score was 0\\.\\d{3} \\(\\w[\\w ]*\\)\\)`,
      ),
    );

    const json = await webdetr(['detect', photo, missing, '--model', model, '--json', ...noBrowser]);
    expect(json.status, json.stderr).toBe(1);
    const document = JSON.parse(json.stdout) as {
      ok: boolean;
      failed: number;
      threshold: number;
      backend: { name: string };
      results: Outcome[];
    };
    expect(document).toMatchObject({ ok: false, failed: 1, threshold: suggested, backend: { name: 'wasm' } });
    expect(document.results.map((r) => r.image)).toEqual([photo, missing]);
    expect(document.results[0]?.detections?.length).toBeGreaterThan(0);
    expect(document.results[1]?.error?.code).toBe('image-read');
  }, 300_000);

  it('no readable image at all is a usage error (exit 2) before any model is loaded', async () => {
    const run = await webdetr(['detect', missing, '--model', model, ...noBrowser]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${missing}: no such file`);
    expect(run.stderr).not.toContain('loading');
  });
});
