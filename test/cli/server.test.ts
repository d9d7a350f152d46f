import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelArg } from '../../cli/run-detect.mjs';
import { choosePageMode, startCliServer, type CliServer } from '../../cli/server.mjs';

/** GET with the path sent exactly as written (fetch would normalize `..` away). */
function get(
  origin: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const work = mkdtempSync(join(tmpdir(), 'webdetr-cli-server-'));
const modelDir = join(work, 'pkg');
const image = join(work, 'photo.png');
mkdirSync(join(modelDir, 'sub'), { recursive: true });
writeFileSync(join(modelDir, 'manifest.json'), '{"format":"webdetr-model/1"}');
writeFileSync(join(modelDir, 'a.onnx'), 'graph-bytes');
writeFileSync(join(modelDir, 'sub', 'hidden.onnx'), 'nope');
writeFileSync(join(work, 'secret.txt'), 'secret');
writeFileSync(image, 'not-really-a-png');

describe('CLI server, repository checkout (vite middleware)', () => {
  let server: CliServer;
  beforeAll(async () => {
    server = await startCliServer({ modelDir, images: [image], pageMode: 'vite' });
  });
  afterAll(() => server.close());

  it('serves the page and its modules, cross-origin isolated', async () => {
    expect(server.pageUrl).toBe(`${server.origin}/cli/page/index.html`);
    const page = await get(server.origin, '/cli/page/index.html');
    expect(page.status).toBe(200);
    expect(page.body).toContain('main.ts');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
    const main = await get(server.origin, '/cli/page/main.ts');
    expect(main.status).toBe(200);
    expect(main.headers['content-type']).toMatch(/javascript/);
    expect(main.headers['cross-origin-embedder-policy']).toBe('require-corp');
  });

  it('serves the model directory and the named images only', async () => {
    expect(server.modelUrl).toBe(`${server.origin}/model/manifest.json`);
    expect((await get(server.origin, '/model/manifest.json')).body).toContain('webdetr-model/1');
    expect((await get(server.origin, '/model/a.onnx')).body).toBe('graph-bytes');
    expect((await get(server.origin, '/input/0')).body).toBe('not-really-a-png');
    for (const path of [
      '/input/1',
      '/model/sub/hidden.onnx',
      '/model/..%2fsecret.txt',
      '/model/../secret.txt',
      '/model/%2e%2e/secret.txt',
      '/model/missing.onnx',
      '/model/sub',
    ]) {
      expect((await get(server.origin, path)).status, path).toBe(404);
    }
  });

  it('serves nothing else of the repository', async () => {
    for (const path of [
      '/package.json',
      '/test/fixtures/manifests/valid/minimal-deformable.json',
      '/tools/export.py',
      '/e2e/pages/index.html',
      '/',
      '/cli/args.mjs',
      '/src/../package.json',
      '/src/%2e%2e/package.json',
      '/node_modules/../package.json',
      `/@fs${process.cwd()}/package.json`,
    ]) {
      expect((await get(server.origin, path)).status, path).toBe(404);
    }
  });
});

describe('CLI server, installed package (static dist/cli)', () => {
  const root = join(work, 'installed');
  mkdirSync(join(root, 'dist', 'cli', 'assets'), { recursive: true });
  writeFileSync(join(root, 'dist', 'cli', 'index.html'), '<html>built page</html>');
  writeFileSync(join(root, 'dist', 'cli', 'assets', 'main.js'), 'export {}');
  writeFileSync(join(root, 'package.json'), '{}');

  it('chooses dist when there are no sources or no vite, and obeys WEBDETR_CLI_PAGE', () => {
    expect(choosePageMode(root, {})).toBe('dist');
    expect(choosePageMode(process.cwd(), {})).toBe('vite');
    expect(choosePageMode(process.cwd(), { WEBDETR_CLI_PAGE: 'dist' })).toBe('dist');
  });

  it('serves the built page and refuses paths outside it', async () => {
    const server = await startCliServer({ images: [], root, pageMode: 'dist' });
    try {
      expect(server.modelUrl).toBeUndefined();
      const page = await get(server.origin, '/index.html');
      expect(page.body).toBe('<html>built page</html>');
      expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect((await get(server.origin, '/assets/main.js')).headers['content-type']).toMatch(/javascript/);
      for (const path of ['/../package.json', '/..%2fpackage.json', '/model/manifest.json', '/assets']) {
        expect((await get(server.origin, path)).status, path).toBe(404);
      }
    } finally {
      await server.close();
    }
  });

  it('says how to build the page when it is missing', async () => {
    await expect(startCliServer({ images: [], root: work, pageMode: 'dist' })).rejects.toThrow(/npm run build:cli/);
  });
});

describe('--model resolution', () => {
  it('URL, directory, manifest file, missing', () => {
    expect(resolveModelArg('https://example.com/m/')).toEqual({ kind: 'url', url: 'https://example.com/m/' });
    expect(resolveModelArg(modelDir)).toEqual({ kind: 'dir', dir: modelDir, file: 'manifest.json' });
    expect(resolveModelArg(join(modelDir, 'manifest.json'))).toEqual({ kind: 'dir', dir: modelDir, file: 'manifest.json' });
    expect(resolveModelArg(join(work, 'none'))).toMatchObject({ kind: 'missing' });
    expect(resolveModelArg(join(modelDir, 'sub'))).toMatchObject({ kind: 'missing', message: expect.stringMatching(/no manifest.json/) });
  });
});
