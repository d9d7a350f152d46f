import { ModelFetchError, ModelIntegrityError } from '../errors.js';
import type { LoadProgressCallback } from './progress.js';

/**
 * The subset of the Cache API (window.caches / worker caches) the loader uses. A browser `Cache`
 * satisfies it as is; tests pass an in-memory implementation.
 */
export interface ModelFileCache {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
  delete(url: string): Promise<boolean>;
}

export interface FetchVerifiedOptions {
  /** Absolute URL of the file. */
  url: string;
  /** Name shown in progress events (the manifest's file name). */
  file: string;
  /** Exact byte size from the manifest. */
  bytes: number;
  /** Lower-case hex sha256 from the manifest. */
  sha256: string;
  cache?: ModelFileCache | null;
  signal?: AbortSignal;
  onProgress?: LoadProgressCallback;
  /** Injected for tests and for the worker's restricted fetch; defaults to globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}

export interface VerifiedFile {
  data: Uint8Array<ArrayBuffer>;
  fromCache: boolean;
}

export async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Downloads one model file, streaming into a buffer of the manifest's exact size, reporting byte
 * progress, and verifying length and sha256 before anything uses it. A cached copy is used only
 * if it verifies too; a corrupt cache entry is evicted and the file fetched again.
 */
export async function fetchVerified(options: FetchVerifiedOptions): Promise<VerifiedFile> {
  const { url, file, bytes: total, onProgress, cache } = options;
  onProgress?.({ status: 'initiate', file, url, total });

  if (cache) {
    const cached = await cache.match(url);
    if (cached) {
      const data = new Uint8Array(await cached.arrayBuffer());
      if (data.byteLength === total && (await sha256Hex(data)) === options.sha256) {
        onProgress?.({ status: 'progress', file, loaded: total, total });
        onProgress?.({ status: 'done', file, total, fromCache: true });
        return { data, fromCache: true };
      }
      await cache.delete(url);
    }
  }

  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await doFetch(url, { signal: options.signal, credentials: 'same-origin' });
  } catch (cause) {
    if (options.signal?.aborted) throw new ModelFetchError(url, `loading ${file} was aborted`, { cause });
    throw new ModelFetchError(url, `could not fetch ${url}: ${String(cause)} (offline, or a cross-origin URL without CORS headers?)`, {
      cause,
    });
  }
  if (!response.ok) {
    throw new ModelFetchError(url, `could not fetch ${url}: HTTP ${response.status} ${response.statusText}`.trim(), {
      status: response.status,
    });
  }

  const data = await readExactly(response, url, file, total, onProgress);
  const actual = await sha256Hex(data);
  if (actual !== options.sha256) {
    throw new ModelIntegrityError(
      url,
      'hash-mismatch',
      `${file}: sha256 is ${actual}, the manifest says ${options.sha256}; refusing to use it`,
    );
  }
  if (cache) {
    // Caching is an optimisation: a full or unavailable cache must not fail the load.
    await cache.put(url, new Response(data, { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
  }
  onProgress?.({ status: 'done', file, total, fromCache: false });
  return { data, fromCache: false };
}

async function readExactly(
  response: Response,
  url: string,
  file: string,
  total: number,
  onProgress: LoadProgressCallback | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  const data = new Uint8Array(total);
  let loaded = 0;
  const body = response.body;
  if (!body) {
    const whole = new Uint8Array(await response.arrayBuffer());
    if (whole.byteLength > total) throw tooLong(url, file, total);
    data.set(whole);
    loaded = whole.byteLength;
  } else {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // Never grow past the manifest's size: a wrong or hostile server can't make us buffer more.
        if (loaded + value.byteLength > total) throw tooLong(url, file, total);
        data.set(value, loaded);
        loaded += value.byteLength;
        onProgress?.({ status: 'progress', file, loaded, total });
      }
    } catch (cause) {
      if (cause instanceof ModelIntegrityError) throw cause;
      throw new ModelFetchError(url, `download of ${file} broke off after ${loaded} of ${total} bytes`, { cause });
    } finally {
      reader.releaseLock();
    }
  }
  if (loaded !== total) {
    throw new ModelIntegrityError(url, 'truncated', `${file}: received ${loaded} bytes, the manifest says ${total}`);
  }
  return data;
}

function tooLong(url: string, file: string, total: number): ModelIntegrityError {
  return new ModelIntegrityError(url, 'too-long', `${file}: more than the ${total} bytes the manifest says`);
}
