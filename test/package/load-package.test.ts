import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError, ManifestError, ModelFetchError, ModelIntegrityError } from '../../src/errors.js';
import { loadGraphs, loadManifest, packageFileUrl, resolveManifestUrl } from '../../src/package/load-package.js';
import type { Manifest } from '../../src/package/manifest.js';
import type { LoadProgressEvent } from '../../src/package/progress.js';
import { MemoryCache } from '../helpers/memory-cache.js';
import { serveRoutes, type Route, type StaticServer } from '../helpers/static-server.js';

const template = JSON.parse(readFileSync('test/fixtures/manifests/valid/minimal-deformable.json', 'utf8')) as Manifest;

/** Deterministic bytes per graph file, of the manifest's sizes (large enough for several chunks). */
const sizes: Record<string, number> = { 'backbone.onnx': 150_000, 'head.onnx': 70_000, 'single.onnx': 90_000 };
const contents = new Map(
  Object.entries(sizes).map(([file, size], k) => [file, new Uint8Array(size).map((_, i) => ((i + k) * 2654435761) >>> 24)]),
);
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function packageManifest(edit: (m: Manifest) => void = () => undefined): Manifest {
  const manifest = structuredClone(template);
  for (const graph of manifest.graphs) {
    const data = contents.get(graph.file) as Uint8Array;
    graph.bytes = data.byteLength;
    graph.sha256 = sha(data);
  }
  edit(manifest);
  return manifest;
}

/** Path → response; a package per directory. */
const routes = new Map<string, Route>();
function servePackage(dir: string, manifestText: string, files: Record<string, Uint8Array> = Object.fromEntries(contents)) {
  routes.set(`${dir}/manifest.json`, { body: manifestText, headers: { 'content-type': 'application/json' } });
  for (const [file, data] of Object.entries(files)) {
    // Several chunks per file so progress has intermediate values.
    routes.set(`${dir}/${file}`, { body: data, headers: { 'content-type': 'application/octet-stream' }, chunkBytes: 32_768 });
  }
}

let server: StaticServer;
let base = '';
let requests: string[] = [];

beforeAll(async () => {
  servePackage('/good', JSON.stringify(packageManifest()));
  servePackage('/bad-json', '{"format": "webdetr-model/1",');
  servePackage('/v2', JSON.stringify({ ...packageManifest(), format: 'webdetr-model/2' }));
  servePackage('/schema', JSON.stringify(packageManifest((m) => ((m.graphs[0] as { bytes: number }).bytes = -1))));
  servePackage('/escape', JSON.stringify(packageManifest((m) => ((m.graphs[0] as { file: string }).file = '../good/backbone.onnx'))));
  const wrongHash = packageManifest((m) => ((m.graphs[1] as { sha256: string }).sha256 = 'f'.repeat(64)));
  servePackage('/wrong-hash', JSON.stringify(wrongHash));
  const backbone = contents.get('backbone.onnx') as Uint8Array;
  servePackage('/truncated', JSON.stringify(packageManifest()), {
    ...Object.fromEntries(contents),
    'backbone.onnx': backbone.subarray(0, 1234),
  });
  servePackage('/missing-graph', JSON.stringify(packageManifest()), {});

  server = await serveRoutes(routes);
  base = server.origin;
  requests = server.requests;
});
afterAll(() => server.close());
beforeEach(() => {
  requests.length = 0;
});

const unreachable: typeof fetch = async () => {
  throw new TypeError('fetch failed');
};

describe('loadManifest', () => {
  it('accepts the manifest URL, the directory with and without a trailing slash', async () => {
    for (const url of [`${base}/good/manifest.json`, `${base}/good/`, `${base}/good`]) {
      const { manifest, manifestUrl } = await loadManifest(url, { cache: false });
      expect(manifestUrl).toBe(`${base}/good/manifest.json`);
      expect(manifest.graphs.map((g) => g.name)).toEqual(['backbone', 'head', 'single']);
    }
    expect(resolveManifestUrl(new URL(`${base}/good/`))).toBe(`${base}/good/manifest.json`);
  });

  it('rejects a relative URL where there is no page location', () => {
    expect(() => resolveManifestUrl('models/x/')).toThrow(InputError);
  });

  it('404 is a ModelFetchError with the status', async () => {
    const attempt = loadManifest(`${base}/nowhere/`, { cache: false });
    await expect(attempt).rejects.toBeInstanceOf(ModelFetchError);
    await expect(attempt).rejects.toMatchObject({ code: 'model-fetch', status: 404, url: `${base}/nowhere/manifest.json` });
  });

  it('an unreachable host (network, CORS) is a ModelFetchError without status', async () => {
    await expect(loadManifest('http://127.0.0.1:1/pkg/', { cache: false })).rejects.toMatchObject({
      code: 'model-fetch',
      status: undefined,
    });
    const attempt = loadManifest(`${base}/good/`, { cache: false, fetch: unreachable });
    await expect(attempt).rejects.toThrow(/CORS/);
  });

  it('invalid JSON is a ManifestError', async () => {
    const attempt = loadManifest(`${base}/bad-json/`, { cache: false });
    await expect(attempt).rejects.toBeInstanceOf(ManifestError);
    await expect(attempt).rejects.toThrow(/not valid JSON/);
  });

  it('another format version is named plainly', async () => {
    const attempt = loadManifest(`${base}/v2/`, { cache: false });
    await expect(attempt).rejects.toMatchObject({ code: 'invalid-manifest' });
    await expect(attempt).rejects.toThrow('manifest format webdetr-model/2 is not supported by this webdetr (supports webdetr-model/1)');
  });

  it('schema violations are a ManifestError listing them', async () => {
    const error = await loadManifest(`${base}/schema/`, { cache: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).violations.some((v) => v.startsWith('/graphs/0/bytes'))).toBe(true);
  });

  it('a file name with a path in the served manifest is refused at validation', async () => {
    await expect(loadManifest(`${base}/escape/`, { cache: false })).rejects.toBeInstanceOf(ManifestError);
  });

  it('uses the cached manifest only when the network is unreachable, never over an HTTP error', async () => {
    const cache = new MemoryCache();
    await loadManifest(`${base}/good/`, { cache });
    expect(cache.entries.has(`${base}/good/manifest.json`)).toBe(true);
    const offline = await loadManifest(`${base}/good/`, { cache, fetch: unreachable });
    expect(offline.manifest.graphs).toHaveLength(3);
    // A server that says 404 means the package is gone: the cache must not hide that.
    cache.entries.set(`${base}/nowhere/manifest.json`, cache.entries.get(`${base}/good/manifest.json`) as Uint8Array<ArrayBuffer>);
    await expect(loadManifest(`${base}/nowhere/`, { cache })).rejects.toMatchObject({ status: 404 });
  });
});

describe('loadGraphs', () => {
  it('loads each graph of the pipelines once, with progress that sums to the total', async () => {
    const { manifest, manifestUrl } = await loadManifest(`${base}/good/`, { cache: false });
    const events: LoadProgressEvent[] = [];
    const result = await loadGraphs(manifest, manifestUrl, ['detect', 'detect'], { cache: false, onProgress: (e) => events.push(e) });
    expect([...result.graphs.keys()]).toEqual(['backbone', 'head']);
    expect(Buffer.from(result.graphs.get('head') ?? []).equals(Buffer.from(contents.get('head.onnx') ?? []))).toBe(true);
    expect(result.bytes).toBe(sizes['backbone.onnx']! + sizes['head.onnx']!);
    expect(result.fromCache).toBe(0);
    expect(requests.filter((r) => r.endsWith('.onnx'))).toEqual(['/good/backbone.onnx', '/good/head.onnx']);

    expect(events.filter((e) => e.status === 'initiate').map((e) => e.file)).toEqual(['backbone.onnx', 'head.onnx']);
    // Each initiate places its file in the whole load: a progress bar needs no manifest of its own.
    const initiates = events.filter((e) => e.status === 'initiate');
    expect(initiates.map((e) => [e.fileIndex, e.fileCount, e.totalBytes])).toEqual([
      [0, 2, result.bytes],
      [1, 2, result.bytes],
    ]);
    const lastLoaded = new Map<string, number>();
    for (const e of events) if (e.status === 'progress') lastLoaded.set(e.file, e.loaded);
    expect([...lastLoaded.values()].reduce((a, b) => a + b, 0)).toBe(result.bytes);
    expect(events.filter((e) => e.status === 'progress').length).toBeGreaterThan(4);
    expect(events.at(-1)).toEqual({ status: 'ready', files: 2, totalBytes: result.bytes });
    expect(events.filter((e) => e.status === 'ready')).toHaveLength(1);
  });

  it('serves the second load from the cache with no graph request', async () => {
    const cache = new MemoryCache();
    const first = await loadManifest(`${base}/good/`, { cache });
    await loadGraphs(first.manifest, first.manifestUrl, ['detect_single_graph'], { cache });
    requests.length = 0;
    const events: LoadProgressEvent[] = [];
    const second = await loadGraphs(first.manifest, first.manifestUrl, ['detect_single_graph'], {
      cache,
      onProgress: (e) => events.push(e),
    });
    expect(second.fromCache).toBe(1);
    expect(requests).toEqual([]);
    expect(events.find((e) => e.status === 'done')).toMatchObject({ fromCache: true });
    expect(events.at(-1)).toEqual({ status: 'ready', files: 1, totalBytes: sizes['single.onnx'] });
  });

  it('includes the graphs of the pipeline a pipeline runs after', async () => {
    const updetr = JSON.parse(readFileSync('test/fixtures/manifests/valid/updetr-two-pipelines.json', 'utf8')) as Manifest;
    const fakeFetch: typeof fetch = async () => new Response(new Uint8Array(0), { status: 404 });
    const attempt = loadGraphs(updetr, `${base}/updetr/manifest.json`, ['detect_patches'], { cache: false, fetch: fakeFetch });
    // The first file fetched is the `after` pipeline's graph.
    await expect(attempt).rejects.toMatchObject({ url: `${base}/updetr/image_encoder.onnx`, status: 404 });
  });

  it('names an unknown pipeline', async () => {
    const manifest = packageManifest();
    await expect(loadGraphs(manifest, `${base}/good/manifest.json`, ['nope'], { cache: false })).rejects.toBeInstanceOf(InputError);
  });

  it('a missing graph file is a ModelFetchError (404)', async () => {
    const { manifest, manifestUrl } = await loadManifest(`${base}/missing-graph/`, { cache: false });
    await expect(loadGraphs(manifest, manifestUrl, ['detect'], { cache: false })).rejects.toMatchObject({
      code: 'model-fetch',
      status: 404,
    });
  });

  it('a wrong sha256 and a truncated file are ModelIntegrityErrors', async () => {
    const hashed = await loadManifest(`${base}/wrong-hash/`, { cache: false });
    const wrong = loadGraphs(hashed.manifest, hashed.manifestUrl, ['detect'], { cache: false });
    await expect(wrong).rejects.toBeInstanceOf(ModelIntegrityError);
    await expect(wrong).rejects.toMatchObject({ reason: 'hash-mismatch', url: `${base}/wrong-hash/head.onnx` });
    const cut = await loadManifest(`${base}/truncated/`, { cache: false });
    await expect(loadGraphs(cut.manifest, cut.manifestUrl, ['detect'], { cache: false })).rejects.toMatchObject({
      code: 'model-integrity',
      reason: 'truncated',
    });
  });

  it('refuses file names that leave the package directory or origin, before any request', async () => {
    for (const file of [
      '../other/backbone.onnx',
      '/abs/backbone.onnx',
      'http://evil.example/x.onnx',
      '//evil.example/x.onnx',
      '%2e%2e/x.onnx',
      'sub/x.onnx',
      '..',
      'a.onnx?x=1',
      'a\\..\\b.onnx',
    ]) {
      const manifest = packageManifest((m) => ((m.graphs[1] as { file: string }).file = file));
      requests.length = 0;
      const attempt = loadGraphs(manifest, `${base}/good/manifest.json`, ['detect'], { cache: false });
      await expect(attempt, file).rejects.toBeInstanceOf(ManifestError);
      await expect(attempt, file).rejects.toThrow(/refusing to fetch it/);
      expect(requests, file).toEqual([]);
    }
    expect(packageFileUrl('..onnx', `${base}/good/manifest.json`)).toBe(`${base}/good/..onnx`);
  });

  it('stops between files when aborted', async () => {
    const { manifest, manifestUrl } = await loadManifest(`${base}/good/`, { cache: false });
    const controller = new AbortController();
    const attempt = loadGraphs(manifest, manifestUrl, ['detect'], {
      cache: false,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.status === 'done') controller.abort();
      },
    });
    await expect(attempt).rejects.toThrow(/aborted/);
    expect(requests.filter((r) => r.endsWith('.onnx'))).toEqual(['/good/backbone.onnx']);
  });
});
