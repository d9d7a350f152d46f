import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFetchError, ModelIntegrityError } from '../../src/errors.js';
import { fetchVerified } from '../../src/package/fetch-verified.js';
import type { LoadProgressEvent } from '../../src/package/progress.js';
import { MemoryCache } from '../helpers/memory-cache.js';
import { serveRoutes, type Route, type StaticServer } from '../helpers/static-server.js';

const payload = new Uint8Array(200_000).map((_, i) => (i * 2654435761) >>> 24);
const payloadSha = createHash('sha256').update(payload).digest('hex');

const routes = new Map<string, Route>([
  // Several chunks so progress has intermediate values.
  ['/model.bin', { body: payload, headers: { 'content-length': String(payload.byteLength) }, chunkBytes: 50_000 }],
  ['/short.bin', { body: payload.subarray(0, 1000) }],
  ['/long.bin', { body: new Uint8Array(payload.byteLength + 1) }],
  // Promise the whole file, send part of it, then drop the connection.
  ['/cut.bin', { body: payload, headers: { 'content-length': String(payload.byteLength) }, dropAfterBytes: 5000 }],
]);

let server: StaticServer;
let base = '';
let requests: string[] = [];

beforeAll(async () => {
  server = await serveRoutes(routes);
  base = server.origin;
  requests = server.requests;
});
afterAll(() => server.close());

const spec = (path: string) => ({ url: `${base}${path}`, file: path.slice(1), bytes: payload.byteLength, sha256: payloadSha });

describe('fetchVerified', () => {
  it('downloads, verifies and reports monotonic byte progress', async () => {
    const events: LoadProgressEvent[] = [];
    const { data, fromCache } = await fetchVerified({ ...spec('/model.bin'), onProgress: (e) => events.push(e) });
    expect(fromCache).toBe(false);
    expect(Buffer.from(data).equals(Buffer.from(payload))).toBe(true);
    expect(events[0]).toMatchObject({ status: 'initiate', total: payload.byteLength });
    expect(events.at(-1)).toMatchObject({ status: 'done', fromCache: false });
    const loaded = events.flatMap((e) => (e.status === 'progress' ? [e.loaded] : []));
    expect(loaded.length).toBeGreaterThan(1);
    expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
    expect(loaded.at(-1)).toBe(payload.byteLength);
  });

  it('rejects a 404 with a typed error carrying the status', async () => {
    const attempt = fetchVerified(spec('/missing.bin'));
    await expect(attempt).rejects.toBeInstanceOf(ModelFetchError);
    await expect(attempt).rejects.toMatchObject({ code: 'model-fetch', status: 404 });
  });

  it('rejects a truncated file', async () => {
    await expect(fetchVerified(spec('/short.bin'))).rejects.toMatchObject({ code: 'model-integrity', reason: 'truncated' });
  });

  it('stops reading a file longer than the manifest says', async () => {
    await expect(fetchVerified(spec('/long.bin'))).rejects.toMatchObject({ reason: 'too-long' });
  });

  it('reports a connection dropped mid-download as a fetch error', async () => {
    await expect(fetchVerified(spec('/cut.bin'))).rejects.toBeInstanceOf(ModelFetchError);
  });

  it('rejects the right size with the wrong sha256', async () => {
    const attempt = fetchVerified({ ...spec('/model.bin'), sha256: '0'.repeat(64) });
    await expect(attempt).rejects.toBeInstanceOf(ModelIntegrityError);
    await expect(attempt).rejects.toMatchObject({ reason: 'hash-mismatch' });
  });

  it('reports an unreachable host as a fetch error', async () => {
    const attempt = fetchVerified({ ...spec('/model.bin'), url: 'http://127.0.0.1:1/model.bin' });
    await expect(attempt).rejects.toMatchObject({ code: 'model-fetch', status: undefined });
  });

  it('serves the second load from the cache without a request', async () => {
    const cache = new MemoryCache();
    await fetchVerified({ ...spec('/model.bin'), cache });
    const before = requests.length;
    const second = await fetchVerified({ ...spec('/model.bin'), cache });
    expect(second.fromCache).toBe(true);
    expect(requests.length).toBe(before);
  });

  it('evicts a corrupt cache entry and downloads again', async () => {
    const cache = new MemoryCache();
    cache.entries.set(`${base}/model.bin`, new Uint8Array(payload.byteLength));
    const before = requests.length;
    const result = await fetchVerified({ ...spec('/model.bin'), cache });
    expect(result.fromCache).toBe(false);
    expect(requests.length).toBe(before + 1);
    expect(Buffer.from(cache.entries.get(`${base}/model.bin`) ?? []).equals(Buffer.from(payload))).toBe(true);
  });

  it('does not cache a file that failed verification', async () => {
    const cache = new MemoryCache();
    await expect(fetchVerified({ ...spec('/short.bin'), cache })).rejects.toBeInstanceOf(ModelIntegrityError);
    expect(cache.entries.size).toBe(0);
  });
});
