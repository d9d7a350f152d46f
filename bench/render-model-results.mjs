/**
 * Renders a full-model benchmark results object (bench/run-model-bench.mjs) as markdown
 * (bench/MODELS.md), an SVG bar chart and bench/README.md's "Latest full-model run" section. Pure functions of the
 * results (unit-tested in test/bench/render-model-results.test.ts); re-render from a saved file with
 *
 *   node bench/render-model-results.mjs bench/results/<file>-models.json   (MODELS.md, SVG, bench/README.md section)
 *   node bench/render-model-results.mjs <file>.json --page OFFICIAL         (bench/OFFICIAL.md and the SVG only)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VARIANT_LABELS = {
  'split-webgpu': '(a) ours: split + WGSL kernel, WebGPU',
  'single-webgpu': '(b) single graph, ORT WebGPU',
  'single-wasm': '(c) single graph, ORT WASM',
  'split-wasm': '(d) ours: split + WebAssembly kernel, WASM',
};
const SHORT = { 'split-webgpu': 'a', 'single-webgpu': 'b', 'single-wasm': 'c', 'split-wasm': 'd' };
const GROUP_LABELS = {
  backbone: 'backbone (+ input projection)',
  encoder: 'encoder graphs',
  'attention-encoder': 'attention kernel, encoder',
  'patch-queries': 'patch backbone + queries',
  decoder: 'decoder graphs + head',
  'attention-decoder': 'attention kernel, decoder',
  'single-graph': 'single graph',
};
// Models with a row in the headline, per-implementation, stage and op tables: the main ones and the official-format
// variants (their own page, or MODELS.md with --official); scaling points only have the scaling tables.
const tabled = (m) => m.role === 'main' || m.role === 'official' || m.role === 'rtdetr';
const SUMMARY_START = '<!-- bench:models:start -->';
const SUMMARY_END = '<!-- bench:models:end -->';

/** Milliseconds, short: 850 ms, 12.3 s, 1 234 s. */
export function formatMs(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  return `${ms < 100_000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(0)} s`;
}

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return '—';
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** a/b as a time ratio ("0.21") and b/a as a speed-up ("4.8×"); undefined when either side is missing. */
export function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0 || b <= 0) return undefined;
  return { timeRatio: a / b, speedup: b / a };
}

function formatRatio(r) {
  if (r === undefined) return '—';
  const time = r.timeRatio < 10 ? r.timeRatio.toFixed(3) : r.timeRatio.toFixed(1);
  return r.speedup >= 1 ? `${time} (${r.speedup.toFixed(1)}× faster)` : `${time} (${(1 / r.speedup).toFixed(1)}× slower)`;
}

export function isSwiftShader(results) {
  const a = results.environment?.adapter ?? {};
  return /swiftshader/i.test(`${a.vendor} ${a.architecture} ${a.description}`);
}

export function adapterName(results) {
  const a = results.environment?.adapter ?? {};
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
  return isSwiftShader(results) ? `${name} (SwiftShader: CPU emulation of a GPU, not GPU speed)` : name;
}

function variantOf(model, name) {
  return model.variants.find((v) => v.variant === name);
}

/**
 * The attention stage of (b): ORT's GridSample and ReduceSum ops over one profiled frame. In these
 * exports both appear only in deformable attention (per layer: a GridSample per level, one ReduceSum
 * for the weighted sum over levels × points); the attention's Softmax, Mul, Transpose and Concat are
 * shared op types and not counted, so this is a lower bound.
 */
export function singleGraphAttentionMs(variant) {
  const ops = variant?.ortOpGpuMs;
  if (ops === undefined) return undefined;
  return (
    Object.entries(ops)
      .filter(([op]) => /^(GridSample|ReduceSum)$/.test(op))
      .reduce((sum, [, ms]) => sum + ms, 0) || undefined
  );
}

/** The attention stage of (a): our kernel stages, GPU timestamps where present, else wall medians. */
export function splitAttentionMs(variant) {
  if (variant === undefined) return undefined;
  const gpu = variant.kernelGpuMedianMs;
  if (gpu !== undefined && Object.keys(gpu).length > 0)
    return { ms: Object.values(gpu).reduce((a, b) => a + b, 0), source: 'timestamp queries' };
  const groups = variant.groupMedianMs ?? {};
  const ms = (groups['attention-encoder'] ?? 0) + (groups['attention-decoder'] ?? 0);
  return ms > 0 ? { ms, source: 'wall, submit to onSubmittedWorkDone' } : undefined;
}

/** Headline numbers of one model: time ratios a/b, a/c (warm frame), attention a/b, re-query fraction, largest stage of (a). */
export function headline(model) {
  const a = variantOf(model, 'split-webgpu');
  const b = variantOf(model, 'single-webgpu');
  const c = variantOf(model, 'single-wasm');
  const attentionA = splitAttentionMs(a);
  const attentionB = singleGraphAttentionMs(b);
  const groups = Object.entries(a?.groupMedianMs ?? {}).sort((x, y) => y[1] - x[1]);
  const largest = groups[0];
  const out = {
    id: model.id,
    frameAB: ratio(a?.frameMs?.median, b?.frameMs?.median),
    frameAC: ratio(a?.frameMs?.median, c?.frameMs?.median),
    attentionAB: ratio(attentionA?.ms, attentionB),
    attentionA,
    attentionB,
  };
  if (a?.requeryMs !== undefined && a.frameMs?.median > 0) out.requeryFraction = a.requeryMs.median / a.frameMs.median;
  if (largest !== undefined && a?.frameMs?.median > 0)
    out.largestStage = { group: largest[0], ms: largest[1], fraction: largest[1] / a.frameMs.median };
  return out;
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function loadLine(results) {
  const h = results.host ?? {};
  const f = (l) => (l ? `${l.one.toFixed(1)} / ${l.five.toFixed(1)} / ${l.fifteen.toFixed(1)}` : '?');
  return `host: ${h.cpus ?? '?'} CPUs, load average (1/5/15 min) ${f(h.before?.loadAverage)} before, ${f(h.after?.loadAverage)} after`;
}

function diffText(v) {
  const d = v.maxAbsDiffVsSplit;
  if (d === undefined) return '';
  return Object.values(d)
    .map((x) => x.toExponential(1))
    .join(' / ');
}

export function mainTable(results) {
  const rows = [];
  for (const model of results.models.filter(tabled)) {
    for (const v of model.variants) {
      rows.push([
        model.id,
        VARIANT_LABELS[v.variant] ?? v.variant,
        formatMs(v.coldStart.totalMs),
        `${formatMs(v.frameMs.median)} (n=${v.frameMs.count})`,
        v.requeryMs ? formatMs(v.requeryMs.median) : '—',
        formatBytes(v.coldStart.downloadBytes),
        v.variant === 'single-wasm' || v.variant === 'split-wasm'
          ? '—'
          : `${formatBytes(v.peakBufferBytes.ours)} / ${formatBytes(v.peakBufferBytes.all)}`,
        diffText(v),
      ]);
    }
  }
  return table(
    [
      'model',
      'implementation',
      'cold start to first boxes',
      'warm frame (median)',
      'one-shot re-query',
      'download',
      'peak GPU buffers: ours / all',
      'max |diff| vs (a) logits / boxes',
    ],
    rows,
  );
}

export function headlineTable(results) {
  const rows = results.models.filter(tabled).map((m) => {
    const h = headline(m);
    return [
      m.id,
      formatRatio(h.frameAB),
      formatRatio(h.frameAC),
      h.attentionAB ? `${formatRatio(h.attentionAB)}: ${formatMs(h.attentionA?.ms)} vs ${formatMs(h.attentionB)}` : '—',
      h.requeryFraction === undefined ? '—' : `${(100 * h.requeryFraction).toFixed(0)}%`,
      h.largestStage
        ? `${GROUP_LABELS[h.largestStage.group] ?? h.largestStage.group}: ${formatMs(h.largestStage.ms)} (${(100 * h.largestStage.fraction).toFixed(0)}%)`
        : '—',
    ];
  });
  return table(
    [
      'model',
      'frame a/b',
      'frame a/c',
      'attention a/b (GPU time: our kernel passes vs GridSample + ReduceSum)',
      're-query / full frame (a)',
      'largest stage of (a)',
    ],
    rows,
  );
}

/**
 * The CPU path, (d) against (c) at the same thread count: frame ratio, and the shares of (d)'s frame that are
 * our own code (the WebAssembly attention kernel stages; the CPU preprocessing, timed apart on the decoded
 * picture), with PyTorch's CPU frame on the same checkpoint where the run measured it.
 */
export function cpuPath(model) {
  const c = variantOf(model, 'single-wasm');
  const d = variantOf(model, 'split-wasm');
  if (d === undefined) return undefined;
  const frame = d.frameMs?.median;
  const groups = d.groupMedianMs ?? {};
  const attention = (groups['attention-encoder'] ?? 0) + (groups['attention-decoder'] ?? 0);
  const preprocess = d.preprocessMs?.median;
  return {
    id: model.id,
    frameC: c?.frameMs?.median,
    frameD: frame,
    frameDC: ratio(frame, c?.frameMs?.median),
    attentionMs: attention,
    attentionShare: frame > 0 ? attention / frame : undefined,
    preprocessMs: preprocess,
    preprocessShare: frame > 0 && preprocess !== undefined ? preprocess / (frame + preprocess) : undefined,
    pytorchMs: model.pytorchCpu?.frameMs?.median,
    frameDPytorch: ratio(frame, model.pytorchCpu?.frameMs?.median),
  };
}

export function cpuPathTable(results) {
  const pct = (x) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
  const rows = results.models
    .map(cpuPath)
    .filter((r) => r !== undefined)
    .map((r) => [
      r.id,
      formatMs(r.frameC),
      formatMs(r.frameD),
      formatRatio(r.frameDC),
      `${formatMs(r.attentionMs)} (${pct(r.attentionShare)})`,
      `${formatMs(r.preprocessMs)} (${pct(r.preprocessShare)})`,
      formatMs(r.pytorchMs),
      formatRatio(r.frameDPytorch),
    ]);
  if (rows.length === 0) return '';
  return table(
    [
      'model',
      '(c) single graph, WASM',
      '(d) ours, WASM',
      'frame d/c',
      'attention kernel in (d) (share of frame)',
      'CPU preprocessing (share of frame + it)',
      'PyTorch CPU, same threads',
      'frame d / PyTorch',
    ],
    rows,
  );
}

function stageTable(results) {
  const rows = [];
  for (const model of results.models.filter(tabled)) {
    const a = variantOf(model, 'split-webgpu');
    if (a === undefined) continue;
    for (const [group, ms] of Object.entries(a.groupMedianMs).sort((x, y) => y[1] - x[1])) {
      rows.push([model.id, GROUP_LABELS[group] ?? group, formatMs(ms), `${((100 * ms) / a.frameMs.median).toFixed(0)}%`]);
    }
  }
  return table(['model', 'stage group of (a)', 'median (wall)', 'share of frame'], rows);
}

function opTable(results) {
  const rows = [];
  for (const model of results.models.filter(tabled)) {
    for (const v of model.variants.filter((x) => x.ortOpGpuMs !== undefined)) {
      const ops = Object.entries(v.ortOpGpuMs).sort((x, y) => y[1] - x[1]);
      const total = ops.reduce((s, [, ms]) => s + ms, 0);
      rows.push([
        model.id,
        SHORT[v.variant],
        formatMs(total),
        ops
          .slice(0, 6)
          .map(([op, ms]) => `${op} ${formatMs(ms)}`)
          .join(', '),
      ]);
    }
  }
  return rows.length === 0 ? '' : table(['model', 'impl.', 'ORT GPU time, one profiled frame', 'top ops'], rows);
}

function scalingTable(results, role, label, key) {
  const models = results.models.filter(
    (m) => m.role === role || (m.role === 'main' && m.id.startsWith(role === 'size-scaling' ? 'detector-' : 'oneshot-')),
  );
  if (models.filter((m) => m.role === role).length === 0) return '';
  const rows = models
    .map((m) => ({ m, k: key(m) }))
    .sort((x, y) => x.k - y.k)
    .map(({ m, k }) => {
      const a = variantOf(m, 'split-webgpu');
      const b = variantOf(m, 'single-webgpu');
      const c = variantOf(m, 'single-wasm');
      return [
        String(k),
        formatMs(a?.frameMs.median),
        a?.requeryMs ? formatMs(a.requeryMs.median) : '—',
        formatMs(b?.frameMs.median),
        formatMs(c?.frameMs.median),
        formatRatio(ratio(a?.frameMs.median, b?.frameMs.median)),
        formatRatio(ratio(a?.frameMs.median, c?.frameMs.median)),
      ];
    });
  return table([label, '(a) frame', '(a) re-query', '(b) frame', '(c) frame', 'a/b', 'a/c'], rows);
}

const sizeOf = (m) => m.input?.image?.[2] ?? Number(m.id.split('-')[1]);
const slotsOf = (m) => m.input?.patches?.[1] ?? Number(m.id.split('-k')[1]);

export function renderModelMarkdown(results, links = {}) {
  const swift = isSwiftShader(results);
  const parts = [
    '# Full-model benchmark',
    '',
    '<!-- Generated by bench/run-model-bench.mjs (npm run bench); re-render with node bench/render-model-results.mjs <json>. -->',
    '',
    `Adapter: **${adapterName(results)}**. Date ${results.date.slice(0, 10)}, commit ${results.commit}, chromium ${results.chromiumVersion}, onnxruntime-web ${results.environment.ortVersion} (WASM ${results.environment.wasmThreads} thread), timestamp queries ${results.environment.timestampQueries ? 'yes' : 'no'}${results.quick ? ', `--quick` run' : ''}; ${loadLine(results)}; ${Math.round(results.durationSeconds)} s in all.`,
    '',
    swift
      ? '> **CPU emulation.** These timings were taken on SwiftShader, a CPU emulation of a GPU on a shared, loaded machine. They are not GPU speed; only the ratios between implementations measured side by side in this one run mean anything, and they too shift with load.'
      : '> Timings on a real GPU adapter.',
    '',
    "Same page, same adapter and GPUDevice, same weights and input tensors. (a) our split pipeline: ORT WebGPU graphs with our fused WGSL deformable attention between them; (b) the single-graph export of the same checkpoint (deformable attention as GridSample) on ORT's WebGPU EP; (c) the same single graph on ORT's WASM backend; (d) our split pipeline on ORT's WASM backend with our WebAssembly deformable attention between the graphs (the CPU path). Time ratios are a/b, a/c and d/c (lower is better for us; the speed-up is the inverse). Frames are wall time from inputs uploaded to outputs read back, preprocessing excluded. The one-shot model's full frame is image + patches pipelines; its re-query runs only the patches pipeline on the kept image encoding (the single graph has no such split, its re-query is a full frame). The one-shot packages take 1 to maxPatches patches and run only those given; the oneshot-k<K> rows are the shipped checkpoint exported with maxPatches = K and given K patches (the two sample patches; further ones repeat the first).",
    '',
    'Hand-written findings from targeted runs (layout and session choices, op forms, before/after of fixes) are in [FINDINGS.md](FINDINGS.md); this page is regenerated by every run.',
    '',
    links.svg ? `![frame times](${links.svg.replace(/^bench\//, '')})\n` : '',
  ];
  // A run of the WASM variants only (--variants single-wasm,split-wasm, the CPU page) has no (a) or (b):
  // their headline, stage and official tables would be rows of dashes.
  const webgpu = results.models.some((m) => variantOf(m, 'split-webgpu') !== undefined || variantOf(m, 'single-webgpu') !== undefined);
  if (webgpu) parts.push('## Headline', '', headlineTable(results), '');
  parts.push(
    '## Per model and implementation',
    '',
    mainTable(results),
    '',
    `Cold start = download (HTTP cache bypassed, local server) + session creation + first run to outputs; ORT's WebGPU device is created before any of them (${formatMs(results.environment.deviceStartMs)}), and shader programs ORT compiled for an earlier implementation in the page may be reused by a later one. Peak GPU buffers: ours = the runner's tensor store and kernel buffers; all = every buffer on the device, ORT's weights included.`,
    '',
  );
  if (webgpu) parts.push('## Where the time goes in (a)', '', stageTable(results), '');
  const cpu = cpuPathTable(results);
  if (cpu) {
    parts.push(
      '## The CPU path: (d) against (c)',
      '',
      `Same page, same ORT WASM thread count (${results.environment.wasmThreads}), same input tensors. Attention = our WebAssembly kernel stages of (d), wall time; CPU preprocessing = the picture's resize + normalize to the model input (src/kernels/bilinear-cpu.ts, PIL mode), timed apart on the decoded picture. PyTorch CPU: the same checkpoint's forward with torch.set_num_threads equal to the WASM thread count (tools/bench/pytorch_frame.py), where the run measured it.`,
      '',
      cpu,
      '',
    );
  }
  const ops = opTable(results);
  if (ops)
    parts.push(
      'ORT per-op GPU time (its WebGPU timestamp profiling, on the first timed frame; on SwiftShader a timestamp spans the emulated dispatch):',
      '',
      ops,
      '',
    );
  const sizes = scalingTable(results, 'size-scaling', 'input size (square)', sizeOf);
  if (sizes) parts.push('## Scaling with input size (detector)', '', sizes, '');
  const patches = scalingTable(results, 'patch-scaling', 'patch slots K', slotsOf);
  if (patches) parts.push('## Scaling with query patches (one-shot)', '', patches, '');
  const official = results.models.filter((m) => m.role === 'official');
  if (official.length > 0 && webgpu)
    parts.push(
      '## Official-format R50 (synthetic weights)',
      '',
      scalingTable({ ...results, models: official.map((m) => ({ ...m, role: 'size-scaling' })) }, 'size-scaling', 'input', (m) => m.id),
      '',
    );
  const measured = new Set(results.models.map((m) => m.id));
  const missing = (results.planned ?? []).filter((id) => !measured.has(id));
  if (missing.length > 0) parts.push(`Planned but not measured (the run was stopped or the package failed): ${missing.join(', ')}.`, '');
  if (results.uncapturedErrors?.length > 0) parts.push(`Uncaptured GPU errors: ${results.uncapturedErrors.join('; ')}`, '');
  if (links.json) parts.push(`Raw results: [${basename(links.json)}](${links.json}).`, '');
  return `${parts.filter((p) => p !== undefined).join('\n')}\n`;
}

/** Horizontal bars of warm frame medians, log scale, per model and implementation. */
export function renderModelSvg(results) {
  const colours = { 'split-webgpu': '#1b7f3b', 'single-webgpu': '#c0392b', 'single-wasm': '#2e5fa8', 'split-wasm': '#d68910' };
  const bars = [];
  for (const model of results.models) {
    for (const v of model.variants)
      if (Number.isFinite(v.frameMs?.median))
        bars.push({ label: `${model.id} ${SHORT[v.variant]}`, variant: v.variant, ms: v.frameMs.median });
  }
  const width = 760;
  const left = 150;
  const right = 90;
  const row = 18;
  const top = 48;
  // Legend: the implementations that have bars, three to a line.
  const legend = Object.entries(VARIANT_LABELS).filter(([variant]) => bars.some((b) => b.variant === variant));
  const height = top + bars.length * row + 40 + 16 * Math.max(0, Math.ceil(legend.length / 3) - 1);
  const values = bars.map((b) => b.ms);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1000)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (ms) => left + ((width - left - right) * (Math.log10(ms) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${esc(`Warm frame time (median, log scale), ${results.date.slice(0, 10)}`)}</text>`,
    `<text x="8" y="32">${esc(adapterName(results))}</text>`,
  ];
  for (let t = lo; t <= hi; t *= 10) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${top + bars.length * row}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${top + bars.length * row + 14}" text-anchor="middle">${esc(formatMs(t))}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * row;
    out.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(
      `<rect x="${left}" y="${y + 2}" width="${Math.max(1, x(b.ms) - left).toFixed(1)}" height="${row - 5}" fill="${colours[b.variant] ?? '#888'}"/>`,
    );
    out.push(`<text x="${(x(b.ms) + 4).toFixed(1)}" y="${y + 12}">${esc(formatMs(b.ms))}</text>`);
  });
  const legendY = top + bars.length * row + 30;
  legend.forEach(([variant, label], i) => {
    const lx = 8 + (i % 3) * 250;
    const ly = legendY + 16 * Math.floor(i / 3);
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${colours[variant]}"/><text x="${lx + 14}" y="${ly}">${esc(label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * bench/README.md's "Latest full-model run" between its markers (appended under that heading when the markers are
 * missing); links are relative to bench/.
 */
export function replaceSummarySection(markdown, results, links) {
  const body = [
    SUMMARY_START,
    `Latest full-model run (\`npm run bench\`${results.quick ? ' --quick' : ''}): **${adapterName(results)}**, ${results.date.slice(0, 10)}, ${loadLine(results)}.${isSwiftShader(results) ? ' CPU-emulation figures: compare the implementations with each other, never read them as GPU speed.' : ''} (a) our split pipeline with the WGSL kernel on WebGPU, (b) the single-graph export on onnxruntime-web WebGPU, (c) the same single graph on onnxruntime-web WASM; time ratios a/b and a/c, lower is better for (a).`,
    '',
    headlineTable(results),
    '',
    mainTable(results),
    '',
    `![frame times](${links.svg})`,
    '',
    `Stages, per-op profile and scaling: [${links.page}](${links.page}); raw: [${basename(links.json)}](${links.json}).`,
    SUMMARY_END,
  ].join('\n');
  const start = markdown.indexOf(SUMMARY_START);
  const end = markdown.indexOf(SUMMARY_END);
  if (start >= 0 && end > start) return markdown.slice(0, start) + body + markdown.slice(end + SUMMARY_END.length);
  return `${markdown.trimEnd()}\n\n## Latest full-model run\n\n${body}\n`;
}

/** The default page: MODELS.md, and the only one that also rewrites bench/README.md's latest-run section. */
export const MAIN_PAGE = 'MODELS';

/** The adapter in a results file name: 'google-swiftshader' (the kernel benchmark's files use it too). */
export function adapterSlug(results) {
  const adapter = results.environment.adapter;
  return (
    `${adapter.vendor}-${adapter.architecture}`
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'unknown'
  );
}

/** Where a run's files go: bench/results/<day>-<adapter>-<page>.{json,svg} and bench/<page>.md. */
export function resultFileBase(results, page = MAIN_PAGE) {
  return `${results.date.slice(0, 10)}-${adapterSlug(results)}-${page === MAIN_PAGE ? 'models' : page.toLowerCase()}`;
}

/**
 * Writes a run's SVG, its page bench/<page>.md and, for the main page only, bench/README.md's latest-run section; the JSON too
 * unless `json` is false (re-rendering a saved file). A separate page (e.g. --page OFFICIAL for a run of the
 * official-format variants alone) leaves MODELS.md and bench/README.md as they are. Returns the paths written.
 */
export function writeModelPages(repoRoot, results, { page = MAIN_PAGE, base = resultFileBase(results, page), json = true } = {}) {
  const benchDir = join(repoRoot, 'bench');
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const written = [];
  const write = (path, text) => {
    writeFileSync(join(repoRoot, path), text);
    written.push(path);
  };
  if (json) write(`bench/results/${base}.json`, `${JSON.stringify(results, null, 1)}\n`);
  write(`bench/results/${base}.svg`, renderModelSvg(results));
  write(`bench/${page}.md`, renderModelMarkdown(results, { json: `results/${base}.json`, svg: `results/${base}.svg` }));
  if (page === MAIN_PAGE) {
    const links = { json: `results/${base}.json`, svg: `results/${base}.svg`, page: `${page}.md` };
    write('bench/README.md', replaceSummarySection(readFileSync(join(repoRoot, 'bench', 'README.md'), 'utf8'), results, links));
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, flag, pageArg] = process.argv.slice(2);
  if (!file || (flag !== undefined && (flag !== '--page' || !/^[A-Za-z0-9_-]+$/.test(pageArg ?? '')))) {
    console.error('usage: node bench/render-model-results.mjs bench/results/<file>.json [--page NAME]');
    process.exit(2);
  }
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
  const written = writeModelPages(repoRoot, results, {
    page: pageArg ?? MAIN_PAGE,
    base: basename(file).replace(/\.json$/, ''),
    json: false,
  });
  console.log(`wrote ${written.join(', ')}`);
}
