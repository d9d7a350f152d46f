import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';
import { besideWebdetr, ortWasmExternal } from './scripts/ort-wasm-external.mjs';

/**
 * Script-tag build (`npm run build:embed`): dist/embed/webdetr.js registers <web-detr> and exports the
 * whole API (`<script type="module" src=".../webdetr.js">`, or `import` it). Bundled: comlink, the
 * worker, the WGSL kernels. onnxruntime-web's .wasm/.mjs runtime files are emitted beside it in
 * dist/embed/assets/ (an app build, not lib mode, which would inline ~25 MB of wasm as base64) and
 * load from the same origin at run time. isolation-sw.js (cross-origin isolation on static hosts, see
 * docs/embed.md) is copied beside webdetr.js.
 * `--mode package` (the npm package, `npm run build:package`): no copy of onnxruntime's .wasm and no
 * source maps; the worker finds the .wasm in the onnxruntime-web installed beside webdetr
 * (scripts/ort-wasm-external.mjs).
 */
export default defineConfig(({ mode }) => ({
  publicDir: false,
  // Relative asset URLs: the bundle works from whatever directory it is served.
  base: './',
  worker: { format: 'es', plugins: () => (mode === 'package' ? [ortWasmExternal(besideWebdetr())] : []) },
  plugins: [
    {
      name: 'webdetr-isolation-sw',
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: 'isolation-sw.js', source: readFileSync('public/isolation-sw.js', 'utf8') });
      },
    },
    ...(mode === 'package' ? [ortWasmExternal(besideWebdetr())] : []),
  ],
  build: {
    outDir: 'dist/embed',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: mode !== 'package',
    modulePreload: false,
    rollupOptions: {
      input: { webdetr: 'src/embed/index.ts' },
      preserveEntrySignatures: 'exports-only',
      output: { entryFileNames: '[name].js' },
    },
  },
}));
