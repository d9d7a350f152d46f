/**
 * The CLI page (chromium, `--backend webgpu`): exposes `window.webdetrCli.run(request)` to the
 * Playwright driver (cli/run-detect.mjs), which streams each image's outcome out through the
 * functions it exposes (`webdetrLoaded`, `webdetrResult`, `webdetrProgress`).
 */
import type { LoadProgressEvent } from '../../src/package/progress.js';
import { runCli, type CliImageOutcome, type CliLoaded, type CliRequest, type CliResponse } from '../core/cli-run.js';
import { createDetector } from '../../src/index.js';

declare global {
  interface Window {
    webdetrCli?: { run(request: CliRequest): Promise<CliResponse> };
    /** Installed by the driver with page.exposeFunction. */
    webdetrProgress?: (event: LoadProgressEvent) => void;
    webdetrLoaded?: (loaded: CliLoaded) => void;
    webdetrResult?: (outcome: CliImageOutcome, index: number) => void;
  }
}

window.webdetrCli = {
  run: (request) =>
    runCli<Blob>(request, {
      // A CLI run is a fresh browser profile: the Cache API would only cost time.
      open: (r) =>
        createDetector({
          model: r.modelUrl,
          backend: r.backend,
          onProgress: (event) => void window.webdetrProgress?.(event),
          cache: false,
        }),
      async read(image) {
        const response = await fetch(image.url ?? '');
        if (!response.ok) throw Object.assign(new Error(`could not read ${image.name}: HTTP ${response.status}`), { code: 'image-read' });
        return response.blob();
      },
      // Awaited by nobody: the exposed functions return promises, and the order of calls is kept.
      onLoaded: (loaded) => void window.webdetrLoaded?.(loaded),
      onResult: (outcome, index) => void window.webdetrResult?.(outcome, index),
    }),
};
