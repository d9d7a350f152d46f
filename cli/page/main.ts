/** The CLI page: exposes `window.webdetrCli.run(request)` to the Playwright driver (cli/run-detect.mjs). */
import type { LoadProgressEvent } from '../../src/package/progress.js';
import { runCli, type CliRequest, type CliResponse } from './cli-run.js';
import { createDetector } from '../../src/index.js';

declare global {
  interface Window {
    webdetrCli?: { run(request: CliRequest): Promise<CliResponse> };
    /** Installed by the driver with page.exposeFunction. */
    webdetrProgress?: (event: LoadProgressEvent) => void;
  }
}

window.webdetrCli = {
  run: (request) => runCli(request, createDetector, (event) => void window.webdetrProgress?.(event)),
};
