/**
 * `npm i webdetr` works (issue 33): `npm pack` of the checkout, installed offline in a throwaway
 * project outside the repository (e2e/consumer/pack.ts), then used the four ways the README says:
 *   1. a TypeScript file type-checks against the published types (skipLibCheck off: every .d.ts shipped is checked)
 *   2. a vite app (the README's vite config) bundles createDetector and detects in headless chromium,
 *      on WASM with the .wasm vite emitted and on WebGPU with onnxruntime's files served from elsewhere
 *   3. the script-tag build runs from the installed node_modules as a static copy, under a strict CSP
 *   4. `npx webdetr detect` runs from the installed package
 * plus the size budget (tarball <= 1 MB) and the webdetr-models package's file list. Sizes and times
 * are written to test-results/consumer-package.json. The model is the tiny test package (24 KB of
 * graphs: a WebGPU frame on SwiftShader takes seconds), so the whole file takes about a minute.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { serveWithStrictCsp } from '../embed/strict-csp-server.js';
import {
  type Installed,
  installInProject,
  type Packed,
  packCheckout,
  packDryRun,
  REPO,
  TARBALL_BUDGET,
  treeBytes,
  writeFiles,
} from './pack.js';

const TINY = join(REPO, 'test/fixtures/packages/tiny');
const PHOTO = join(REPO, '../shared/reference/image.png');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const VITE = join(REPO, 'node_modules/vite/bin/vite.js');
const ORT_WASM = 'ort-wasm-simd-threaded.jsep.wasm';
const keep = process.env.WEBDETR_CONSUMER_KEEP === '1';

let work = '';
let packed: Packed;
let installed: Installed;
const record: Record<string, unknown> = {};
const started = Date.now();

test.describe.configure({ mode: 'serial' });

test.beforeAll(() => {
  test.setTimeout(300_000);
  work = mkdtempSync(join(tmpdir(), 'webdetr-pack-'));
  let t = Date.now();
  packed = packCheckout(work);
  record.packSeconds = (Date.now() - t) / 1000;
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  t = Date.now();
  installed = installInProject(packed.tarball, pkg);
  record.installSeconds = (Date.now() - t) / 1000;
  record.installMode = installed.mode;
});

test.afterAll(() => {
  record.totalSeconds = (Date.now() - started) / 1000;
  mkdirSync(join(REPO, 'test-results'), { recursive: true });
  writeFileSync(join(REPO, 'test-results/consumer-package.json'), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`consumer package: ${JSON.stringify(record)}`);
  if (!keep) {
    rmSync(work, { recursive: true, force: true });
    if (installed) rmSync(installed.project, { recursive: true, force: true });
  } else console.log(`kept ${work} and ${installed?.project}`);
});

function run(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('npm pack ships exactly what exports and bin need, within 1 MB; the install pulls in onnxruntime-web', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const pkg = JSON.parse(readFileSync(join(installed.project, 'node_modules/webdetr/package.json'), 'utf8')) as {
    exports: Record<string, string | { types: string; import: string }>;
    bin: Record<string, string>;
  };
  const needed = Object.values(pkg.exports).flatMap((target) => (typeof target === 'string' ? [target] : [target.types, target.import]));
  for (const path of [...needed, ...Object.values(pkg.bin)]) expect(files, path).toContain(path.replace(/^\.\//, ''));
  // The worker, the CLI page and its Node engine, which the entries load at run time.
  expect(files).toContain('dist/lib/worker.js');
  expect(files).toContain('dist/cli/index.html');
  expect(files).toContain('dist/cli-node/run-node.mjs');
  // No demo, no sources, no models, no source maps, no copy of onnxruntime's .wasm.
  const strays = [...files].filter(
    (path) => /\.(wasm|map|onnx|ts)$|^(src|public|shaders|e2e|test|tools)\//.test(path) && !path.endsWith('.d.ts'),
  );
  expect(strays).toEqual([]);
  expect(packed.size).toBeLessThanOrEqual(TARBALL_BUDGET);
  const modules = join(installed.project, 'node_modules');
  Object.assign(record, {
    tarballBytes: packed.size,
    unpackedBytes: packed.unpackedSize,
    files: packed.files.length,
    installBytes: treeBytes(modules),
    onnxruntimeWebBytes: treeBytes(join(modules, 'onnxruntime-web')),
    // webdetr and every dependency npm put there (all hoisted: none nests another version).
    installedPackages: readdirSync(modules)
      .filter((name) => !name.startsWith('.'))
      .flatMap((name) => (name.startsWith('@') ? readdirSync(join(modules, name)) : [name])).length,
  });
});

test('TypeScript: a consumer file type-checks against the published types (and a wrong call does not)', () => {
  const project = installed.project;
  writeFiles(project, {
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: [],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['check.ts'],
    }),
    'check.ts': [
      "import { createDetector, InputError, type CreateDetectorOptions, type Detection, type DetectionResult } from 'webdetr';",
      "import { createMsDeformAttn } from 'webdetr/kernels';",
      "import { WebDetrElement } from 'webdetr/embed';",
      '',
      "const options: CreateDetectorOptions = { model: '/models/detector/manifest.json', backend: 'auto', onnxruntimeWasm: '/ort/x.wasm' };",
      'export async function boxes(image: ImageBitmap): Promise<Detection[]> {',
      '  const detector = await createDetector(options);',
      '  const result: DetectionResult = await detector.detect(image, { threshold: 0.5 });',
      '  // @ts-expect-error the threshold is a number (fails if the types were `any`)',
      "  await detector.detect(image, { threshold: 'high' });",
      '  await detector.dispose();',
      '  return result.detections;',
      '}',
      'export const kernel: typeof createMsDeformAttn = createMsDeformAttn;',
      'export const element: CustomElementConstructor = WebDetrElement;',
      'export const isInputError = (error: unknown): boolean => error instanceof InputError;',
      '',
    ].join('\n'),
  });
  const tsc = run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
});

test('a vite app bundles createDetector and detects in chromium: WASM (the .wasm vite emitted) and WebGPU (onnxruntimeWasm served elsewhere)', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const project = installed.project;
  writeFiles(project, {
    // The README's vite config, verbatim.
    'vite.config.js': "export default { worker: { format: 'es' } };\n",
    'index.html':
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>consumer</title><script type="module" src="./main.ts"></script></head><body></body></html>\n',
    'main.ts': [
      "import { createDetector, type BackendPreference } from 'webdetr';",
      '',
      'const params = new URLSearchParams(location.search);',
      "const backend = (params.get('backend') ?? 'wasm') as BackendPreference;",
      "const runtime = params.get('ort');",
      'const pixels = new ImageData(96, 64);',
      'for (let i = 0; i < pixels.data.length; i += 4) pixels.data.set([(i / 4) % 96 * 2, (i / 384) * 3, 128, 255], i);',
      'const result = (async () => {',
      '  const detector = await createDetector({',
      "    model: new URL('../model/manifest.json', location.href),",
      '    backend,',
      '    ...(runtime === null ? {} : { onnxruntimeWasm: runtime }),',
      '  });',
      '  const { detections } = await detector.detect(pixels, { threshold: 0 });',
      '  await detector.dispose();',
      '  return { backend: detector.backend.name, detections };',
      '})().catch((error: unknown) => ({ error: String(error) }));',
      '(window as unknown as { result: unknown }).result = result;',
      '',
    ].join('\n'),
  });
  const build = run(process.execPath, [VITE, 'build', '--base', './', '--logLevel', 'warn'], project);
  expect(build.status, build.stdout + build.stderr).toBe(0);
  const assets = readdirSync(join(project, 'dist/assets'));
  expect(assets.filter((name) => name.startsWith('ort-wasm-simd-threaded.jsep') && name.endsWith('.wasm'))).toHaveLength(1);
  expect(assets.filter((name) => /^worker-.*\.js$/.test(name))).toHaveLength(1);

  const server = await serveWithStrictCsp(
    { app: join(project, 'dist'), model: TINY, ort: join(project, 'node_modules/onnxruntime-web/dist') },
    { csp: false },
  );
  try {
    type Outcome = { backend?: string; detections?: { score: number; label: string; box: Record<string, number> }[]; error?: string };
    const detect = async (query: string): Promise<Outcome> => {
      await page.goto(`${server.base}/app/index.html?${query}`);
      return page.evaluate(() => (window as unknown as { result: Promise<Outcome> }).result);
    };
    const wasm = await detect('backend=wasm');
    expect(wasm.error).toBeUndefined();
    expect(wasm.backend).toBe('wasm');
    expect(server.requests.some((path) => /^\/app\/assets\/ort-wasm-simd-threaded\.jsep-[^/]+\.wasm$/.test(path))).toBe(true);
    const webgpu = await detect(`backend=webgpu&ort=/ort/${ORT_WASM}`);
    expect(webgpu.error).toBeUndefined();
    expect(webgpu.backend).toBe('webgpu');
    expect(server.requests).toContain(`/ort/${ORT_WASM}`);
    expect(wasm.detections!.length).toBeGreaterThan(0);
    expect(webgpu.detections!.map((d) => d.label)).toEqual(wasm.detections!.map((d) => d.label));
    for (const [k, d] of webgpu.detections!.entries()) expect(Math.abs(d.score - wasm.detections![k]!.score)).toBeLessThanOrEqual(1e-3);
    record.viteApp = { detections: wasm.detections!.length, assets: assets.length };
  } finally {
    await server.close();
  }
});

/** A port nobody listens on now (the browser suite's servers run beside this one). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('the same app on the vite dev server (dependency pre-bundling left on)', async ({ page }) => {
  test.setTimeout(180_000);
  const project = installed.project;
  // The dev server serves the model from public/ (the built app above got it from the test server).
  cpSync(TINY, join(project, 'public/model'), { recursive: true });
  const port = await freePort();
  const dev = spawn(process.execPath, [VITE, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: project,
    stdio: 'pipe',
  });
  let log = '';
  for (const stream of [dev.stdout, dev.stderr]) stream.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    const ready = () =>
      fetch(`http://127.0.0.1:${port}/index.html`).then(
        (response) => response.ok,
        () => false,
      );
    await expect.poll(ready, { timeout: 60_000, message: log }).toBe(true);
    await page.goto(`http://127.0.0.1:${port}/index.html?backend=wasm`);
    const outcome = await page.evaluate(
      () => (window as unknown as { result: Promise<{ backend?: string; detections?: unknown[]; error?: string }> }).result,
    );
    expect(outcome.error, log).toBeUndefined();
    expect(outcome.backend).toBe('wasm');
    expect(outcome.detections!.length).toBeGreaterThan(0);
  } finally {
    dev.kill();
  }
});

test('the script-tag build runs from the installed node_modules (a static copy) under a strict CSP', async ({ page }) => {
  test.setTimeout(180_000);
  const html = join(installed.project, 'embed.html');
  writeFileSync(
    html,
    [
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>embed from node_modules</title>',
      '<script type="module" src="/node_modules/webdetr/dist/embed/webdetr.js"></script>',
      '<script type="module" src="/page/embed-test.js"></script></head>',
      '<body><web-detr id="first" src="/photo.png" model="/model/manifest.json" threshold="0"></web-detr></body></html>',
      '',
    ].join('\n'),
  );
  const server = await serveWithStrictCsp(
    { node_modules: join(installed.project, 'node_modules'), model: TINY, page: join(REPO, 'e2e/embed') },
    { files: { '/': html, '/photo.png': PHOTO } },
  );
  try {
    await page.goto(`${server.base}/`);
    type Embed = { events: { count: number; backend: string }[]; errors: unknown[]; violations: string[] };
    const state = () => page.evaluate(() => (window as unknown as { __embed: Embed }).__embed);
    await expect.poll(async () => (await state()).events.length + (await state()).errors.length, { timeout: 150_000 }).toBeGreaterThan(0);
    const { events, errors, violations } = await state();
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
    expect(events[0]!.count).toBeGreaterThan(0);
    // SwiftShader is a CPU-fallback adapter: `auto` runs WASM, with the .wasm of the onnxruntime-web installed beside webdetr.
    expect(events[0]!.backend).toBe('wasm');
    expect(server.requests).toContain(`/node_modules/onnxruntime-web/dist/${ORT_WASM}`);
    expect(server.requests.filter((path) => path.endsWith('.wasm'))).toHaveLength(1);
  } finally {
    await server.close();
  }
});

test('npx webdetr detect runs from the installed package (Node, WASM)', () => {
  const help = run('npx', ['--offline', 'webdetr', '--help'], installed.project);
  expect(help.status, help.stderr).toBe(0);
  expect(help.stdout).toContain('Usage: webdetr detect');
  const detect = run('npx', ['--offline', 'webdetr', 'detect', PHOTO, '--model', TINY, '--threshold', '0', '--jsonl'], installed.project);
  expect(detect.status, detect.stderr).toBe(0);
  const lines = detect.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const outcome = JSON.parse(lines[0]!) as { detections: unknown[]; backend: { name: string } };
  expect(outcome.detections.length).toBeGreaterThan(0);
  expect(outcome.backend.name).toBe('wasm');
});

test('npx webdetr detect --backend webgpu: the prebuilt page in chromium, the onnxruntime .wasm from the installed onnxruntime-web', () => {
  test.setTimeout(180_000);
  // docs/cli.md: --backend webgpu needs playwright-core next to webdetr; the checkout's copy stands in for
  // `npm install playwright-core` (it has no dependencies).
  const link = join(installed.project, 'node_modules/playwright-core');
  if (!existsSync(link)) symlinkSync(join(REPO, 'node_modules/playwright-core'), link);
  const detect = run(
    'npx',
    ['--offline', 'webdetr', 'detect', PHOTO, '--model', TINY, '--threshold', '0', '--jsonl', '--backend', 'webgpu'],
    installed.project,
  );
  expect(detect.status, detect.stderr).toBe(0);
  const outcome = JSON.parse(detect.stdout.trim()) as { detections: unknown[]; backend: { name: string } };
  expect(outcome.detections.length).toBeGreaterThan(0);
  expect(outcome.backend.name).toBe('webgpu');
});

test('webdetr-models packs both default models with every file their manifests name', () => {
  const dir = join(REPO, 'packages/webdetr-models');
  const models = packDryRun(dir);
  const files = new Set(models.files.map((f) => f.path));
  for (const model of ['detector', 'oneshot']) {
    const manifest = JSON.parse(readFileSync(join(dir, model, 'manifest.json'), 'utf8')) as { graphs: { file: string }[] };
    expect(files).toContain(`${model}/manifest.json`);
    for (const { file } of manifest.graphs) expect(files).toContain(`${model}/${file}`);
  }
  expect(existsSync(join(dir, 'README.md'))).toBe(true);
  record.modelsTarballBytes = models.size;
  record.modelsUnpackedBytes = models.unpackedSize;
});
