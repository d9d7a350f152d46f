/**
 * Loads a model package: its manifest.json (validated, with a clear error for other format
 * versions) and the graph files a backend needs (each verified against the manifest's size and
 * sha256 by fetchVerified). Graph files are only ever fetched from the package's own directory:
 * a manifest cannot make us request another path or origin.
 */
import { InputError, ManifestError, ModelFetchError } from '../errors.js';
import { fetchVerified, type ModelFileCache } from './fetch-verified.js';
import { MANIFEST_FORMAT, parseManifest, type Manifest } from './manifest.js';
import { graphsOfPipelines } from './pipeline-graphs.js';
import type { LoadProgressCallback } from './progress.js';

export const MODEL_CACHE_NAME = 'webdetr-models-v1';

export interface LoadPackageOptions {
  /**
   * Cache API (caches.open('webdetr-models-v1')) where available: true (default), false, or a
   * cache object (tests pass an in-memory one).
   */
  cache?: boolean | ModelFileCache;
  onProgress?: LoadProgressCallback;
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
}

export interface LoadedGraphs {
  /** Graph name → file bytes (verified). */
  graphs: Map<string, Uint8Array<ArrayBuffer>>;
  /** Sum of the graph files' sizes. */
  bytes: number;
  /** How many of the files came from the cache. */
  fromCache: number;
}

/** The file name rule of the manifest schema: one path segment, no escapes, no query. */
const PLAIN_FILE_NAME = /^[A-Za-z0-9_.-]+$/;

/** Absolute manifest URL: a directory URL (trailing `/` or no `.json` ending) gets `manifest.json`. */
export function resolveManifestUrl(url: string | URL): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let resolved: URL;
  try {
    resolved = new URL(url, base);
  } catch (cause) {
    throw new InputError(
      `model URL ${String(url)} is not a valid URL${base === undefined ? ' (a relative URL needs a page location)' : ''}`,
      { cause },
    );
  }
  if (resolved.pathname.endsWith('/')) resolved.pathname += 'manifest.json';
  else if (!resolved.pathname.toLowerCase().endsWith('.json')) resolved.pathname += '/manifest.json';
  return resolved.href;
}

/** Opens the model cache: the caller's object, the browser's Cache API, or none. Never throws. */
export async function openModelCache(option: LoadPackageOptions['cache']): Promise<ModelFileCache | null> {
  if (option === false) return null;
  if (option !== undefined && option !== true) return option;
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (storage === undefined) return null;
  try {
    // Rejects in opaque origins and some private modes; the load still works without a cache.
    return await storage.open(MODEL_CACHE_NAME);
  } catch {
    return null;
  }
}

/**
 * Fetches and validates a package's manifest. Network first (a new package version is picked up
 * at once); the cached copy is used only when the network is unreachable, so a second visit
 * works offline. HTTP errors are never masked by the cache.
 */
export async function loadManifest(
  url: string | URL,
  options: LoadPackageOptions = {},
): Promise<{ manifest: Manifest; manifestUrl: string }> {
  const manifestUrl = resolveManifestUrl(url);
  const cache = await openModelCache(options.cache);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let text: string;
  try {
    const response = await doFetch(manifestUrl, { signal: options.signal, credentials: 'same-origin' });
    if (!response.ok) {
      throw new ModelFetchError(
        manifestUrl,
        `could not fetch the model manifest ${manifestUrl}: HTTP ${response.status} ${response.statusText}`.trim(),
        { status: response.status },
      );
    }
    text = await response.text();
  } catch (cause) {
    if (cause instanceof ModelFetchError) throw cause;
    const cached = options.signal?.aborted ? undefined : await cache?.match(manifestUrl);
    if (cached === undefined) throw manifestFetchFailure(manifestUrl, cause, options.signal);
    text = await cached.text();
  }

  const manifest = parseManifestText(text);
  if (cache) {
    await cache.put(manifestUrl, new Response(text, { headers: { 'content-type': 'application/json' } })).catch(() => undefined);
  }
  return { manifest, manifestUrl };
}

function manifestFetchFailure(url: string, cause: unknown, signal: AbortSignal | undefined): ModelFetchError {
  if (signal?.aborted) return new ModelFetchError(url, 'loading the model manifest was aborted', { cause });
  return new ModelFetchError(
    url,
    `could not fetch the model manifest ${url}: ${String(cause)} (offline, wrong URL, or a cross-origin URL without CORS headers?)`,
    { cause },
  );
}

/** JSON → Manifest, naming an unsupported format version before any schema detail. */
export function parseManifestText(text: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError([`/: not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`]);
  }
  const format = typeof json === 'object' && json !== null ? (json as { format?: unknown }).format : undefined;
  if (typeof format === 'string' && format !== MANIFEST_FORMAT) {
    throw new ManifestError([`/format: manifest format ${format} is not supported by this webdetr (supports ${MANIFEST_FORMAT})`]);
  }
  return parseManifest(json);
}

/**
 * URL of a graph file, or ManifestError if it would leave the package directory or the manifest's
 * origin: only what the caller configured is ever fetched.
 */
export function packageFileUrl(file: string, manifestUrl: string): string {
  const refuse = (why: string): ManifestError => new ManifestError([`/graphs: file ${JSON.stringify(file)} ${why}; refusing to fetch it`]);
  if (!PLAIN_FILE_NAME.test(file) || file === '.' || file === '..') {
    throw refuse('is not a plain file name in the package directory');
  }
  const base = new URL(manifestUrl);
  const url = new URL(file, base);
  const directory = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  if (url.origin !== base.origin) throw refuse(`is on another origin than the manifest (${base.origin})`);
  if (!url.pathname.startsWith(directory) || url.pathname.slice(directory.length).includes('/')) {
    throw refuse(`leaves the package directory ${directory}`);
  }
  return url.href;
}

/**
 * Downloads (or reads from cache) the graph files of the named pipelines, one after another,
 * forwarding each file's initiate/progress/done events (each `initiate` with the file's position
 * and the whole load's file count and bytes) and ending with one `ready` event.
 */
export async function loadGraphs(
  manifest: Manifest,
  manifestUrl: string,
  pipelineNames: readonly string[],
  options: LoadPackageOptions = {},
): Promise<LoadedGraphs> {
  const files = graphsOfPipelines(manifest, pipelineNames);
  // Resolve every URL before the first request: a bad entry refuses the whole package.
  const urls = files.map((graph) => packageFileUrl(graph.file, manifestUrl));
  const cache = await openModelCache(options.cache);
  const totalBytes = files.reduce((sum, graph) => sum + graph.bytes, 0);
  const graphs = new Map<string, Uint8Array<ArrayBuffer>>();
  let bytes = 0;
  let fromCache = 0;
  for (const [index, graph] of files.entries()) {
    const url = urls[index] as string;
    if (options.signal?.aborted) {
      throw new ModelFetchError(url, `loading ${graph.file} was aborted`, { cause: options.signal.reason });
    }
    const file = await fetchVerified({
      url,
      file: graph.file,
      bytes: graph.bytes,
      sha256: graph.sha256,
      cache,
      signal: options.signal,
      onProgress: options.onProgress && withPosition(options.onProgress, { fileIndex: index, fileCount: files.length, totalBytes }),
      fetch: options.fetch,
    });
    graphs.set(graph.name, file.data);
    bytes += graph.bytes;
    if (file.fromCache) fromCache += 1;
  }
  options.onProgress?.({ status: 'ready', files: files.length, totalBytes: bytes });
  return { graphs, bytes, fromCache };
}

/** Adds a file's place in the whole load to its `initiate` event. */
function withPosition(
  onProgress: LoadProgressCallback,
  position: { fileIndex: number; fileCount: number; totalBytes: number },
): LoadProgressCallback {
  return (event) => onProgress(event.status === 'initiate' ? { ...event, ...position } : event);
}
