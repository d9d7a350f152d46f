/**
 * Broken variants of the tiny test package (test/fixtures/packages/tiny), written to
 * node_modules/.cache/webdetr-bad-input/<name>/ for the bad-input suites (e2e/bad-input.spec.ts,
 * test/worker/bad-input-engine.test.ts). Each is the tiny package with one thing wrong.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TINY_PACKAGE = 'test/fixtures/packages/tiny';
export const BAD_PACKAGES = 'node_modules/.cache/webdetr-bad-input';

// biome-ignore lint/suspicious/noExplicitAny: test-only manifest surgery reaches into any field
type Json = Record<string, any>;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The error a load of a bad package must end in: its class name, code, and reason or HTTP status where it has one. */
export interface ExpectedLoadError {
  name: 'ModelFetchError' | 'ManifestError' | 'ModelIntegrityError';
  code: string;
  reason?: string;
  status?: number;
}
const fetchError = (status: number): ExpectedLoadError => ({ name: 'ModelFetchError', code: 'model-fetch', status });
const MANIFEST: ExpectedLoadError = { name: 'ManifestError', code: 'invalid-manifest' };
const integrity = (reason: string): ExpectedLoadError => ({ name: 'ModelIntegrityError', code: 'model-integrity', reason });

interface Variant {
  /** A manifest edit (undefined: no manifest.json; a string: its raw text). */
  manifest?: (m: Json) => Json | string | undefined;
  /** Replaced file bytes. */
  files?: Record<string, (bytes: Buffer) => Buffer>;
  updateHashes?: boolean;
  expect: ExpectedLoadError;
}

/** What each variant changes (a manifest edit, replaced file bytes, or both), and the load error it must give. */
const VARIANTS: Record<string, Variant> = {
  'no-manifest': { manifest: () => undefined, expect: fetchError(404) },
  'manifest-invalid-json': { manifest: () => '{"format": "webdetr-model/1", "graphs": [', expect: MANIFEST },
  'manifest-empty': { manifest: () => '', expect: MANIFEST },
  'manifest-html': { manifest: () => '<!doctype html><title>Not found</title>', expect: MANIFEST },
  'manifest-not-object': { manifest: () => '[1, 2, 3]', expect: MANIFEST },
  'manifest-future-version': { manifest: (m) => ({ ...m, format: 'webdetr-model/2' }), expect: MANIFEST },
  'manifest-no-graphs': { manifest: ({ graphs: _graphs, ...m }) => m, expect: MANIFEST },
  'manifest-negative-bytes': { manifest: (m) => ((m.graphs[0].bytes = -1), m), expect: MANIFEST },
  'manifest-bad-sha256': { manifest: (m) => ((m.graphs[0].sha256 = 'not-a-hash'), m), expect: MANIFEST },
  'manifest-unknown-family': { manifest: (m) => ((m.model.family = 'yolo'), m), expect: MANIFEST },
  'manifest-extra-key': { manifest: (m) => ({ ...m, eval: 'alert(1)' }), expect: MANIFEST },
  'manifest-undeclared-tensor': { manifest: (m) => (delete m.tensors.pos, m), expect: MANIFEST },
  'manifest-read-before-produced': { manifest: (m) => (m.pipelines[0].stages.reverse(), m), expect: MANIFEST },
  'manifest-file-escapes-dir': { manifest: (m) => ((m.graphs[0].file = '../tiny/backbone.onnx'), m), expect: MANIFEST },
  'manifest-file-other-origin': { manifest: (m) => ((m.graphs[0].file = 'https://example.com/backbone.onnx'), m), expect: MANIFEST },
  'graph-404': { manifest: (m) => ((m.graphs[0].file = 'missing.onnx'), m), expect: fetchError(404) },
  'graph-truncated': { files: { 'backbone.onnx': (b) => b.subarray(0, b.length - 100) }, expect: integrity('truncated') },
  'graph-too-long': { files: { 'backbone.onnx': (b) => Buffer.concat([b, Buffer.alloc(64)]) }, expect: integrity('too-long') },
  'graph-wrong-hash': { files: { 'backbone.onnx': (b) => Buffer.from(b).fill(0x55, 100, 101) }, expect: integrity('hash-mismatch') },
  'graph-not-onnx': {
    files: { 'head.onnx': () => Buffer.from('<!doctype html><title>It works!</title>') },
    updateHashes: true,
    expect: integrity('invalid-graph'),
  },
  // The manifest says 32x48 input; the graphs take 64x96.
  'shape-mismatch': {
    expect: integrity('graph-mismatch'),
    manifest: (m) => {
      m.input.sizePolicy = { ...m.input.sizePolicy, height: 32, width: 48 };
      m.tensors.image.shape = [1, 3, 32, 48];
      return m;
    },
  },
  // The manifest calls a tensor `position` that the graphs call `pos`.
  'name-mismatch': {
    manifest: (m) => JSON.parse(JSON.stringify(m).replaceAll('"pos"', '"position"')) as Json,
    expect: integrity('graph-mismatch'),
  },
  'dtype-mismatch': { manifest: (m) => ((m.tensors.memory.dtype = 'float16'), m), expect: integrity('graph-mismatch') },
};

export type BadPackageName = keyof typeof VARIANTS;
export const BAD_PACKAGE_NAMES = Object.keys(VARIANTS);
/** Every variant with the load error both bad-input suites (engine in Node, API in chromium) expect. */
export const BAD_PACKAGE_CASES: [BadPackageName, ExpectedLoadError][] = Object.entries(VARIANTS).map(([name, variant]) => [
  name,
  variant.expect,
]);

/** Writes every variant (cheap: the tiny package is 30 KB); returns the directory holding them. */
export function writeBadPackages(root = BAD_PACKAGES): string {
  rmSync(root, { recursive: true, force: true });
  const original = JSON.parse(readFileSync(join(TINY_PACKAGE, 'manifest.json'), 'utf8')) as Json;
  for (const [name, variant] of Object.entries(VARIANTS)) {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    cpSync(TINY_PACKAGE, dir, { recursive: true });
    rmSync(join(dir, 'manifest.json'));
    for (const [file, change] of Object.entries(variant.files ?? {}))
      writeFileSync(join(dir, file), change(readFileSync(join(TINY_PACKAGE, file))));
    let manifest: Json | string | undefined = structuredClone(original);
    if (variant.updateHashes) {
      for (const graph of (manifest as Json).graphs as Json[]) {
        const bytes = readFileSync(join(dir, graph.file as string));
        graph.bytes = bytes.length;
        graph.sha256 = sha256(bytes);
      }
    }
    if (variant.manifest) manifest = variant.manifest(manifest as Json);
    if (manifest !== undefined)
      writeFileSync(join(dir, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 1));
  }
  return root;
}
