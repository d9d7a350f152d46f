#!/usr/bin/env node
/**
 * ORT WebGPU session choices (preferredLayout, graph capture) per graph of a split package, side by
 * side in one headless-chromium page (bench/models/session-choices.ts): first-run time, ORT per-op
 * GPU time, max |diff| vs the runtime's current options, interleaved timed rounds (medians).
 * Prints the JSON, or writes it with --out.
 *
 *   node bench/run-session-choices.mjs [--package /models/detector] [--image /samples/astronaut.jpg]
 *        [--graphs encoder_input,encoder_1,decoder_input] [--choices current,nhwc,nchw,capture]
 *        [--rounds 2] [--port 5197] [--out bench/results/<file>.json]
 *        [--symbols patches=10] [--other-package /.cache/bench-models/before]
 *
 * --symbols binds symbolic dims (the one-shot patch count); --other-package adds, for each choice, a
 * twin "<choice>@other" that runs the other package's graph of the same name (an export change side by side).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuCount, headCommit, hostLoad, runOnBenchPage } from './bench-page.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    package: { type: 'string', default: '/models/detector' },
    image: { type: 'string', default: '/samples/astronaut.jpg' },
    graphs: { type: 'string', default: 'encoder_input,encoder_1,decoder_input' },
    choices: { type: 'string', default: 'current,nhwc,nchw' },
    rounds: { type: 'string', default: '2' },
    port: { type: 'string', default: process.env.WEBDETR_BENCH_PORT ?? '5197' },
    out: { type: 'string' },
    symbols: { type: 'string' },
    'other-package': { type: 'string' },
  },
});

const known = {
  // current: the runtime's options for the package (src/runtime/ort-webgpu.ts preferredLayoutFor).
  current: { name: 'current' },
  nhwc: { name: 'nhwc', preferredLayout: 'NHWC' },
  nchw: { name: 'nchw', preferredLayout: 'NCHW' },
  capture: { name: 'capture', enableGraphCapture: true },
  'nchw-capture': { name: 'nchw-capture', preferredLayout: 'NCHW', enableGraphCapture: true },
};
const ownChoices = args.choices.split(',').map((name) => {
  if (!(name in known)) throw new Error(`unknown choice ${name} (known: ${Object.keys(known).join(', ')})`);
  return known[name];
});
const otherPackage = args['other-package'];
const choices =
  otherPackage === undefined ? ownChoices : ownChoices.flatMap((c) => [c, { ...c, name: `${c.name}@other`, packageUrl: otherPackage }]);
const symbols = Object.fromEntries(
  (args.symbols ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const [name, value] = pair.split('=');
      if (name === undefined || !Number.isInteger(Number(value))) throw new Error(`--symbols wants name=integer pairs, got ${pair}`);
      return [name, Number(value)];
    }),
);

const started = Date.now();
const commit = headCommit(repoRoot);
const before = hostLoad();
await runOnBenchPage(
  { repoRoot, port: Number(args.port), path: '/bench/models/session-choices.html', ready: 'window.webdetrSessionChoices !== undefined' },
  async ({ page, browser }) => {
    const environment = await page.evaluate(() => window.webdetrSessionChoices.init());
    const spec = {
      packageUrl: args.package,
      image: args.image,
      graphs: args.graphs.split(','),
      choices,
      rounds: Number(args.rounds),
      symbols,
      otherPackage,
    };
    const result = await page.evaluate((s) => window.webdetrSessionChoices.runChoices(s), spec);
    const json = `${JSON.stringify({ date: new Date().toISOString(), commit, chromiumVersion: browser.version(), host: { before, after: hostLoad(), cpus: cpuCount() }, durationSeconds: (Date.now() - started) / 1000, environment, ...result }, null, 1)}\n`;
    if (args.out !== undefined) writeFileSync(resolve(repoRoot, args.out), json);
    console.log(json);
    if (Object.keys(result.failed).length > 0) console.error(`failed: ${JSON.stringify(result.failed)}`);
  },
);
