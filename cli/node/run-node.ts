/**
 * The CLI's WASM path: the engine itself (DetectorEngine, onnxruntime-web's WASM backend and our
 * WebAssembly kernels) in this Node process, without a browser. Model files are read from disk
 * (file: URLs, through the loader's `fetch` option: same size and sha256 checks as over HTTP) or
 * fetched over http(s); images are decoded by ./decode-image.ts. Loaded by cli/run-detect.mjs
 * through vite's ssrLoadModule in a checkout, or as the prebuilt dist/cli-node bundle.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BackendInfo, BackendPreference, DetectOptions, PreparedImage, QueryPatch } from '../../src/api/types.js';
import type { RgbaPixels } from '../../src/kernels/bilinear-reference.js';
import type { LoadProgressCallback } from '../../src/package/progress.js';
import { DetectorEngine } from '../../src/worker/engine.js';
import { runCli, type CliDetector, type CliImageOutcome, type CliLoaded, type CliRequest, type CliResponse } from '../core/cli-run.js';
import { createImageReader } from './decode-image.js';

export { createImageReader, decodeImage, readImageFile, sniffFormat } from './decode-image.js';

export interface NodeRunHooks {
  onProgress?: LoadProgressCallback;
  onLoaded?(loaded: CliLoaded): void;
  onResult?(outcome: CliImageOutcome, index: number): void;
}

/** fetch for file: URLs (a local package); anything else goes to Node's fetch. A missing file is a 404, as from a server. */
export const fileFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.protocol !== 'file:') return fetch(input, init);
  let bytes: Buffer;
  try {
    bytes = await readFile(fileURLToPath(url));
  } catch {
    return new Response(null, { status: 404, statusText: 'Not Found' });
  }
  // A copy typed as ArrayBuffer-backed, which Response takes (a Buffer's type allows a shared buffer).
  return new Response(new Uint8Array(bytes), {
    headers: { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' },
  });
};

const isPrepared = (image: RgbaPixels | PreparedImage): image is PreparedImage => (image as PreparedImage).kind === 'prepared-image';

/**
 * The engine behind the Detector-shaped calls runCli makes (prepared images by id, as the worker
 * does), with the backend reason said for the command line: the engine's own names the JS option.
 */
function engineDetector(engine: DetectorEngine, preference: BackendPreference): CliDetector<RgbaPixels> {
  const ref = (image: RgbaPixels | PreparedImage) => (isPrepared(image) ? image.id : image);
  const backend: BackendInfo = {
    ...engine.backend,
    reason:
      preference === 'auto'
        ? '--backend auto in Node: Node has no WebGPU, so WASM runs here without a browser; --backend webgpu runs in chromium'
        : '--backend wasm: runs in Node, without a browser',
  };
  return {
    model: engine.model,
    backend,
    detect: async (image, options?: DetectOptions) => ({ ...(await engine.detect(ref(image), options)), backend }),
    detectWithPatches: async (image, patches: readonly QueryPatch[], options?: DetectOptions) => ({
      ...(await engine.detectWithPatches(ref(image), patches, options)),
      backend,
    }),
    prepareImage: async (image) => engine.prepareImage(image),
    dispose: () => engine.dispose(),
  };
}

export async function runNode(request: CliRequest, hooks: NodeRunHooks = {}): Promise<CliResponse> {
  const images = createImageReader();
  try {
    return await runCli<RgbaPixels>(request, {
      async open(r) {
        const engine = await DetectorEngine.create({
          model: r.modelUrl,
          backend: r.backend,
          // Node has no WebGPU: `auto` picks WASM and the header says why; `webgpu` goes through chromium.
          gpu: undefined,
          cache: false,
          fetch: fileFetch,
          ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
        });
        return engineDetector(engine, r.backend);
      },
      read: (image) => images.read(image.name),
      ...(hooks.onLoaded ? { onLoaded: hooks.onLoaded } : {}),
      ...(hooks.onResult ? { onResult: hooks.onResult } : {}),
    });
  } finally {
    await images.close();
  }
}
