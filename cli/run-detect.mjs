/**
 * `webdetr detect`: checks the files named, runs the model over every image and prints each image's
 * outcome as it finishes. Where it runs:
 *   --backend wasm | auto   in this Node process (cli/node/: the engine on onnxruntime-web's WASM
 *                           backend, no browser; Node has no WebGPU, so `auto` is WASM here)
 *   --backend webgpu        in headless chromium: serves page + model + images on 127.0.0.1 and drives
 *                           the page's real API through Playwright
 * The model is loaded once per call; an image that cannot be read or detected on is reported and the
 * batch goes on. Returns the exit status: 0 ok, 1 the model or any image failed, 2 bad arguments or
 * missing files.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parsePatchesFile, UsageError } from './args.mjs';
import { chromiumWebGpuArgs } from './chromium-flags.mjs';
import { batchProgress, cliWords, formatHeader, formatResult, progressBar, progressLine } from './format.mjs';
import { loadNodeRunner } from './node-runner.mjs';
import { startCliServer } from './server.mjs';

/** --model → where it is loaded from: a remote URL, or a local directory (served at /model/ to chromium). */
export function resolveModelArg(model) {
  if (/^https?:\/\//i.test(model)) return { kind: 'url', url: model };
  if (!existsSync(model)) return { kind: 'missing', message: `--model ${model}: no such file or directory` };
  if (statSync(model).isDirectory()) {
    if (!existsSync(join(model, 'manifest.json')))
      return { kind: 'missing', message: `--model ${model}: the directory has no manifest.json` };
    return { kind: 'dir', dir: model, file: 'manifest.json' };
  }
  return { kind: 'dir', dir: dirname(model), file: basename(model) };
}

async function loadChromium() {
  for (const name of ['playwright-core', 'playwright', '@playwright/test']) {
    try {
      const module = await import(name);
      if (module.chromium) return module.chromium;
    } catch {
      // try the next one
    }
  }
  throw new Error('--backend webgpu runs in chromium and needs Playwright: npm install playwright-core');
}

/**
 * Prints a run as it goes: the header once the model is loaded, each image's outcome (table block,
 * one JSON line, or kept for the final JSON), a live progress line on a terminal's stderr, and at the
 * end the failures and the exit status.
 */
function createReporter(args, io) {
  const total = args.images.length;
  const printed = new Set();
  const failures = [];
  let detectMs = 0;
  const tty = Boolean(io.stderr.isTTY);
  let loaded;
  let started = 0;
  let liveLine = false;
  const clearLive = () => {
    if (liveLine) io.stderr.write('\r\x1b[K');
    liveLine = false;
  };
  const live = (text) => {
    if (!tty) return;
    io.stderr.write(`\r${text}\x1b[K`);
    liveLine = true;
  };
  return {
    progress(event) {
      const bar = tty ? progressBar(event) : undefined;
      const line = progressLine(event);
      if (bar) live(bar);
      else if (line) {
        clearLive();
        io.stderr.write(`${line}\n`);
      }
    },
    loaded(info) {
      loaded = info;
      started = Date.now();
      clearLive();
      if (args.json) return;
      // JSON lines keep stdout to one object per image: the header goes to stderr.
      (args.jsonl ? io.stderr : io.stdout).write(`${formatHeader(info)}\n`);
      live(batchProgress(0, total, 0, 0, basename(args.images[0] ?? '')));
    },
    result(outcome, index) {
      if (printed.has(index)) return;
      printed.add(index);
      if (outcome.error) failures.push(outcome);
      else detectMs += outcome.timings.total;
      clearLive();
      if (args.jsonl) io.stdout.write(`${JSON.stringify(outcome)}\n`);
      else if (!args.json) io.stdout.write(`${formatResult(outcome, loaded?.threshold)}\n`);
      if (printed.size < total)
        live(batchProgress(printed.size, total, failures.length, Date.now() - started, basename(args.images[printed.size] ?? '')));
    },
    /** The run's end: anything not streamed yet, the JSON document, the failures; returns the exit status. */
    finish(response) {
      clearLive();
      if (response.error) {
        if (args.json) io.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
        const { error } = response;
        io.stderr.write(`webdetr: loading the model failed: ${error.name} [${error.code}]: ${cliWords(error.message)}\n`);
        return 1;
      }
      for (const [index, outcome] of response.results.entries()) this.result(outcome, index);
      clearLive();
      if (args.json) io.stdout.write(`${JSON.stringify(response, null, args.raw ? 0 : 2)}\n`);
      io.stderr.write(`${runSummary(total, failures.length, response.loadMs, detectMs)}\n`);
      if (failures.length === 0) return 0;
      io.stderr.write(`webdetr: ${failures.length} of ${total} image${total === 1 ? '' : 's'} failed:\n`);
      for (const { image, error } of failures) io.stderr.write(`  ${image}: ${error.name} [${error.code}]: ${cliWords(error.message)}\n`);
      return 1;
    },
  };
}

/**
 * The run in one stderr line: the time since the process started, split into the model load, the
 * detection calls (the engine's own per-image totals) and everything else (start-up, decoding,
 * printing), and the peak resident memory of this process (with --backend webgpu, chromium's is not in it).
 */
function runSummary(total, failed, loadMs, detectMs) {
  const wall = process.uptime() * 1000;
  const done = total - failed;
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const perImage = done > 0 ? ` (${(detectMs / done / 1000).toFixed(2)} s/image)` : '';
  const peak = process.resourceUsage().maxRSS / 1024;
  return `webdetr: ${total} image${total === 1 ? '' : 's'}${failed > 0 ? ` (${failed} failed)` : ''} in ${s(wall)}: model load ${s(loadMs)}, detection ${s(detectMs)}${perImage}, the rest ${s(Math.max(0, wall - loadMs - detectMs))}; peak RSS ${peak.toFixed(0)} MB`;
}

/**
 * @param {import('./args.d.mts').DetectArgs} args
 * @param {{ stdout: NodeJS.WritableStream & { isTTY?: boolean }, stderr: NodeJS.WritableStream & { isTTY?: boolean } }} io
 */
export async function runDetect(args, io) {
  const fail = (status, message) => {
    io.stderr.write(`webdetr: ${message}\n`);
    return status;
  };
  // A batch goes on past a missing or unreadable image (reported with the others that failed); only
  // when nothing named can be read is it a usage error.
  const readable = args.images.filter((image) => existsSync(image) && statSync(image).isFile());
  if (readable.length === 0) {
    const [first = ''] = args.images;
    return fail(
      2,
      `image ${first}: ${existsSync(first) ? 'not a file' : 'no such file'}${args.images.length > 1 ? ' (and no other image named exists)' : ''}`,
    );
  }
  const model = resolveModelArg(args.model);
  if (model.kind === 'missing') return fail(2, model.message);
  let perImagePatches;
  if (args.patchesFile !== undefined) {
    if (!existsSync(args.patchesFile)) return fail(2, `--patches-file ${args.patchesFile}: no such file`);
    try {
      perImagePatches = parsePatchesFile(readFileSync(args.patchesFile, 'utf8'), args.images);
    } catch (error) {
      if (error instanceof UsageError) return fail(2, error.message);
      throw error;
    }
  }
  const request = {
    modelUrl: model.kind === 'url' ? model.url : pathToFileURL(resolve(model.dir, model.file)).href,
    backend: args.backend,
    images: args.images.map((name, k) => ({ name, ...(perImagePatches ? { patches: perImagePatches[k] } : {}) })),
    patches: args.patches,
    ...(args.threshold === undefined ? {} : { threshold: args.threshold }),
    maxDetections: args.maxDetections,
    ...(args.zoom === undefined ? {} : { zoom: args.zoom }),
    raw: args.raw,
  };
  const reporter = createReporter(args, io);
  try {
    // WEBDETR_CLI_BROWSER=1 runs every backend in chromium: the tests drive the page's batch loop on
    // WASM with it, as --backend webgpu on SwiftShader takes minutes a frame.
    const inChromium = args.backend === 'webgpu' || process.env.WEBDETR_CLI_BROWSER === '1';
    const response = inChromium ? await runInChromium(args, io, request, model, reporter) : await runInNode(args, io, request, reporter);
    return reporter.finish(response);
  } catch (error) {
    return fail(1, cliWords(error instanceof Error ? error.message : String(error)));
  }
}

/** --backend wasm | auto: the engine in this process. */
async function runInNode(args, io, request, reporter) {
  const timeout = setTimeout(() => {
    // The engine's WebAssembly cannot be interrupted: leave at once.
    io.stderr.write(`\nwebdetr: gave up after ${args.timeoutMs / 1000} s (--timeout)\n`);
    process.exit(1);
  }, args.timeoutMs);
  timeout.unref();
  const runner = await loadNodeRunner();
  try {
    return await runner.runNode(request, {
      onProgress: (event) => reporter.progress(event),
      onLoaded: (loaded) => reporter.loaded(loaded),
      onResult: (outcome, index) => reporter.result(outcome, index),
    });
  } finally {
    clearTimeout(timeout);
    await runner.close();
  }
}

/** --backend webgpu: the page's real API in headless chromium. */
async function runInChromium(args, io, request, model, reporter) {
  let server;
  let browser;
  const timeout = setTimeout(() => {
    io.stderr.write(`webdetr: gave up after ${args.timeoutMs / 1000} s (--timeout)\n`);
    void browser?.close();
  }, args.timeoutMs);
  try {
    server = await startCliServer({ images: args.images, port: args.port, ...(model.kind === 'dir' ? { modelDir: model.dir } : {}) });
    const modelUrl = model.kind === 'url' ? model.url : `${server.origin}/model/${model.file}`;
    const chromium = await loadChromium();
    browser = await chromium.launch({ executablePath: args.chromium, args: chromiumWebGpuArgs, headless: true });
    const page = await browser.newPage();
    const debug = Boolean(process.env.WEBDETR_CLI_DEBUG);
    page.on('console', (message) => {
      if (debug) io.stderr.write(`[page ${message.type()}] ${message.text()}\n`);
    });
    page.on('pageerror', (error) => io.stderr.write(`[page error] ${error.message}\n`));
    await page.exposeFunction('webdetrProgress', (event) => reporter.progress(event));
    await page.exposeFunction('webdetrLoaded', (loaded) => reporter.loaded(loaded));
    await page.exposeFunction('webdetrResult', (outcome, index) => reporter.result(outcome, index));
    await page.goto(server.pageUrl);
    await page.waitForFunction(() => window.webdetrCli !== undefined, undefined, { timeout: 120_000 });
    const pageRequest = { ...request, modelUrl, images: request.images.map((image, k) => ({ ...image, url: server.imageUrls[k] })) };
    return await page.evaluate((r) => window.webdetrCli.run(r), pageRequest);
  } finally {
    clearTimeout(timeout);
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }
}
