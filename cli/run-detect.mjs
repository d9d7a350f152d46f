/**
 * `webdetr detect`: checks the files named, serves page + model + images on 127.0.0.1, drives
 * headless chromium (Playwright) through the page's real API, prints the result.
 * Returns the exit status: 0 ok, 1 the run failed, 2 bad arguments or missing files.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parsePatchesFile, UsageError } from './args.mjs';
import { chromiumWebGpuArgs } from './chromium-flags.mjs';
import { formatTable, progressBar, progressLine } from './format.mjs';
import { startCliServer } from './server.mjs';

/** --model → where the page loads it from: a remote URL, or a local directory served at /model/. */
export function resolveModelArg(model) {
  if (/^https?:\/\//i.test(model)) return { kind: 'url', url: model };
  if (!existsSync(model)) return { kind: 'missing', message: `--model ${model}: no such file or directory` };
  if (statSync(model).isDirectory()) {
    if (!existsSync(join(model, 'manifest.json'))) return { kind: 'missing', message: `--model ${model}: the directory has no manifest.json` };
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
  throw new Error('the webdetr CLI needs Playwright: npm install playwright-core');
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
  for (const image of args.images) {
    if (!existsSync(image)) return fail(2, `image ${image}: no such file`);
    if (!statSync(image).isFile()) return fail(2, `image ${image}: not a file`);
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

  let server;
  let browser;
  const timeout = setTimeout(() => {
    io.stderr.write(`webdetr: gave up after ${args.timeoutMs / 1000} s (--timeout)\n`);
    void browser?.close();
  }, args.timeoutMs);
  try {
    server = await startCliServer({
      images: args.images,
      port: args.port,
      ...(model.kind === 'dir' ? { modelDir: model.dir } : {}),
    });
    const modelUrl = model.kind === 'url' ? model.url : `${server.origin}/model/${model.file}`;
    const chromium = await loadChromium();
    browser = await chromium.launch({ executablePath: args.chromium, args: chromiumWebGpuArgs, headless: true });
    const page = await browser.newPage();
    const debug = Boolean(process.env.WEBDETR_CLI_DEBUG);
    page.on('console', (message) => {
      if (debug) io.stderr.write(`[page ${message.type()}] ${message.text()}\n`);
    });
    page.on('pageerror', (error) => io.stderr.write(`[page error] ${error.message}\n`));
    let barShown = false;
    await page.exposeFunction('webdetrProgress', (event) => {
      const line = progressLine(event);
      const bar = io.stderr.isTTY ? progressBar(event) : undefined;
      if (bar) {
        io.stderr.write(`\r${bar}\x1b[K`);
        barShown = true;
      } else if (line) {
        io.stderr.write(`${barShown ? '\r\x1b[K' : ''}${line}\n`);
        barShown = false;
      }
    });
    await page.goto(server.pageUrl);
    await page.waitForFunction(() => window.webdetrCli !== undefined, undefined, { timeout: 120_000 });
    const request = {
      modelUrl,
      backend: args.backend,
      images: args.images.map((name, k) => ({ name, url: server.imageUrls[k], ...(perImagePatches ? { patches: perImagePatches[k] } : {}) })),
      patches: args.patches,
      ...(args.threshold === undefined ? {} : { threshold: args.threshold }),
      maxDetections: args.maxDetections,
      ...(args.zoom === undefined ? {} : { zoom: args.zoom }),
      raw: args.raw,
    };
    const response = await page.evaluate((r) => window.webdetrCli.run(r), request);
    if (args.json) io.stdout.write(`${JSON.stringify(response, null, args.raw ? 0 : 2)}\n`);
    else if (response.results.length > 0 || response.ok) io.stdout.write(`${formatTable(response)}\n`);
    if (!response.ok) {
      const { error } = response;
      const where = error.stage === 'load' ? 'loading the model' : `${error.stage === 'image' ? 'reading' : 'detecting on'} ${error.image}`;
      return fail(1, `${where} failed: ${error.name} [${error.code}]: ${error.message}`);
    }
    return 0;
  } catch (error) {
    return fail(1, error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timeout);
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }
}
