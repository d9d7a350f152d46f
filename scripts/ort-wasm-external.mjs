/**
 * Vite plugin for the builds that go into the npm package (`--mode package`): onnxruntime-web's 28 MB
 * `.wasm` is not copied into our output but found at run time in the installed onnxruntime-web, so the
 * package ships no copy of a dependency's file. The worker's `onnxruntime-web/...jsep.wasm?url` import
 * becomes a URL computed from the worker's own address (`locate`), and the asset onnxruntime's bundle
 * would emit is dropped: the page hands the worker the bytes (src/api/runtime-binary.ts), so
 * onnxruntime never fetches it by its own URL.
 */
import { readFileSync } from 'node:fs';

export const ORT_WASM_FILE = 'ort-wasm-simd-threaded.jsep.wasm';
const ORT_WASM_IMPORT = `onnxruntime-web/${ORT_WASM_FILE}?url`;
const VIRTUAL = '\0webdetr-ort-wasm-url';

/** The exact onnxruntime-web version the package depends on (a CDN path must name the same build). */
export function ortVersion() {
  return JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-web/package.json', import.meta.url), 'utf8')).version;
}

/**
 * @param {string} locate the body of the virtual module: JavaScript that `export default`s the .wasm's
 *   absolute URL, evaluated in the worker (its `import.meta.url` is the worker chunk's URL)
 * @returns {import('vite').Plugin}
 */
export function ortWasmExternal(locate) {
  return {
    name: 'webdetr-ort-wasm-external',
    enforce: 'pre',
    resolveId(id) {
      return id === ORT_WASM_IMPORT ? VIRTUAL : null;
    },
    load(id) {
      return id === VIRTUAL ? locate : null;
    },
    generateBundle(_options, bundle) {
      for (const name of Object.keys(bundle)) if (name.endsWith('.wasm')) delete bundle[name];
    },
  };
}

/**
 * The embed's default: onnxruntime-web installed beside webdetr (`node_modules/webdetr/dist/embed/assets/`
 * → `node_modules/onnxruntime-web/dist/`), which a static copy of node_modules keeps; under a
 * CDN-style path that names our version (`/npm/webdetr@0.1.0/...`) it names onnxruntime's exact
 * version the same way, so the JavaScript and the .wasm always match.
 */
export function besideWebdetr() {
  const version = ortVersion();
  return [
    'const here = new URL(import.meta.url);',
    'const pinned = /\\/webdetr@[^/]+\\/dist\\/embed\\/assets\\/[^/]+$/.test(here.pathname);',
    `export default new URL(\`../../../../onnxruntime-web\${pinned ? '@${version}' : ''}/dist/${ORT_WASM_FILE}\`, here).href;`,
  ].join('\n');
}
