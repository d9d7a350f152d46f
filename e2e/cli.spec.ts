/**
 * The `webdetr` command line end to end: the real bin/webdetr.mjs in a child process, which serves
 * the page and drives its own headless chromium. Error paths use small hand-made packages; the
 * parity runs use a 64x96 export of a reference variant (tools/export_parity_fixture.py) and check
 * `--raw` against the PyTorch reference outputs.
 */
import { expect, test } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maxAbsDiff, readNpyFloat32 } from '../test/export/npy.js';

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the CLI; its page server takes any free port (--port 0), so it never meets the e2e server. */
function webdetr(args: string[], timeoutMs = 280_000): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/webdetr.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'webdetr-cli-e2e-'));
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A package of the minimal fixture manifest with made-up graph bytes; `edit` breaks it on purpose. */
function fakePackage(name: string, edit: (manifest: Record<string, unknown>) => void, writeGraphs = true): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync('test/fixtures/manifests/valid/minimal-deformable.json', 'utf8'));
  for (const graph of manifest.graphs as { file: string; bytes: number; sha256: string }[]) {
    const data = new Uint8Array(graph.bytes).map((_, i) => (i * 31) & 255);
    graph.sha256 = sha(data);
    if (writeGraphs) writeFileSync(join(dir, graph.file), data);
  }
  edit(manifest);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/** 2x2 PNG (a real image for the error-path runs, which never get to decode it). */
const tinyPng = join(work, 'tiny.png');
writeFileSync(
  tinyPng,
  Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64'),
);

test.describe('webdetr CLI: arguments and load errors', () => {
  test('--help prints the usage and exits 0', async () => {
    const run = await webdetr(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: webdetr detect <image...> --model <dir|url>');
  });

  test('bad arguments and missing files exit 2 with a clear message', async () => {
    const bad = await webdetr(['detect', tinyPng, '--model', work, '--threshold', '3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--threshold must be within 0..1');
    const noImage = await webdetr(['detect', join(work, 'nope.png'), '--model', work]);
    expect(noImage.status).toBe(2);
    expect(noImage.stderr).toContain('nope.png: no such file');
    const noModel = await webdetr(['detect', tinyPng, '--model', join(work, 'no-model')]);
    expect(noModel.status).toBe(2);
    expect(noModel.stderr).toContain('no such file or directory');
  });

  test('model load failures exit 1 with the typed error code and message', async () => {
    const cases: [string, string, RegExp][] = [
      [fakePackage('missing-graphs', () => undefined, false), 'model-fetch', /HTTP 404/],
      [fakePackage('wrong-hash', (m) => ((m.graphs as { sha256: string }[])[1]!.sha256 = 'f'.repeat(64))), 'model-integrity', /sha256 is [0-9a-f]{64}, the manifest says f{64}/],
      [fakePackage('v2', (m) => (m.format = 'webdetr-model/2')), 'invalid-manifest', /manifest format webdetr-model\/2 is not supported by this webdetr \(supports webdetr-model\/1\)/],
      [fakePackage('schema', (m) => delete m.pipelines), 'invalid-manifest', /pipelines/],
    ];
    for (const [dir, code, message] of cases) {
      const run = await webdetr(['detect', tinyPng, '--model', dir]);
      expect(run.status, `${dir}\n${run.stderr}`).toBe(1);
      expect(run.stderr).toContain(`loading the model failed:`);
      expect(run.stderr).toContain(`[${code}]`);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  test('an unreachable model URL is a model-fetch error', async () => {
    const run = await webdetr(['detect', tinyPng, '--model', 'http://127.0.0.1:1/pkg/']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('[model-fetch]');
  });
});
