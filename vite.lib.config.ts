import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';

const WORKER_SOURCE = "new URL('../worker/worker.ts', import.meta.url)";
const WORKER_PLACEHOLDER = '__WEBDETR_WORKER_URL__';

/**
 * The worker is an entry of its own (dist/lib/worker.js, dependencies left as imports) and index.js
 * starts it with the literal `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`:
 * the pattern the app's bundler (vite, webpack 5) recognizes, so it bundles the worker with the app's
 * own copy of onnxruntime-web and emits onnxruntime's .wasm. Left to vite's lib mode, the worker would
 * be bundled here with onnxruntime's 28 MB .wasm inlined as base64. The URL is hidden behind a
 * placeholder until the chunk is rendered, so vite's own worker transform never sees it.
 */
function workerAsEntry(): Plugin {
  return {
    name: 'webdetr-worker-entry',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('/src/api/worker-connection.ts')) return null;
      if (!code.includes(WORKER_SOURCE)) this.error(`${id} no longer starts the worker with ${WORKER_SOURCE}`);
      return { code: code.replace(WORKER_SOURCE, WORKER_PLACEHOLDER), map: null };
    },
    renderChunk(code) {
      return code.includes(WORKER_PLACEHOLDER)
        ? { code: code.replace(WORKER_PLACEHOLDER, "new URL('./worker.js', import.meta.url)"), map: null }
        : null;
    },
  };
}

/**
 * Library build (`npm run build:lib`): the ESM files the package.json exports map points at, plus
 * isolation-sw.js (enableCrossOriginIsolation's service worker) for apps to serve beside their page.
 */
export default defineConfig({
  publicDir: false,
  plugins: [
    workerAsEntry(),
    {
      name: 'webdetr-isolation-sw',
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: 'isolation-sw.js', source: readFileSync('public/isolation-sw.js', 'utf8') });
      },
    },
  ],
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    // No source maps: they would point at src/, which the package does not ship.
    sourcemap: false,
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', kernels: 'src/kernels/index.ts', worker: 'src/worker/worker.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      // Dependencies stay imports (onnxruntime-web's `.wasm?url` too): the app's bundler resolves and
      // dedupes them, and emits onnxruntime's runtime files.
      external: (id) => ['onnxruntime-web', 'comlink', '@cfworker/json-schema'].some((dep) => id === dep || id.startsWith(`${dep}/`)),
    },
  },
});
