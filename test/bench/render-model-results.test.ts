/** Pure parts of the full-model benchmark: stage grouping, medians, ratios, headline and rendering. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs module without types
import * as render from '../../bench/render-model-results.mjs';

import { summarize } from '../../bench/kernels/stats.js';
import { groupTimes, medianByKey, stageGroup } from '../../bench/models/stage-groups.js';

const { cpuPath, formatMs, headline, ratio, renderModelMarkdown, renderModelSvg, replaceSummarySection, resultFileBase, writeModelPages } =
  render;

const summary = (median: number) => ({ ...summarize([median]) });

function fakeResults(adapter = { vendor: 'google', architecture: 'swiftshader', device: '', description: '' }) {
  const variant = (name: string, frame: number, extra: Record<string, unknown> = {}) => ({
    variant: name,
    pipelines: [],
    coldStart: { downloadMs: 10, downloadBytes: 13_600_000, createMs: 100, firstRunMs: 1000, totalMs: 1110 },
    frameMs: summary(frame),
    stageMedianMs: {},
    groupMedianMs: {},
    peakBufferBytes: { ours: 2_000_000, all: 20_000_000 },
    ...extra,
  });
  return {
    date: '2026-11-23T15:00:00.000Z',
    commit: 'abc1234',
    chromiumVersion: '140',
    quick: true,
    host: { cpus: '2', before: { loadAverage: { one: 9, five: 8, fifteen: 7 } }, after: { loadAverage: { one: 10, five: 9, fifteen: 8 } } },
    durationSeconds: 600,
    environment: { adapter, ortVersion: '1.30.0', wasmThreads: 1, timestampQueries: false, deviceStartMs: 50 },
    uncapturedErrors: [],
    models: [
      {
        id: 'oneshot-k10',
        role: 'main',
        input: { image: [1, 3, 320, 320], patches: [1, 10, 3, 128, 128] },
        variants: [
          variant('split-webgpu', 1000, {
            requeryMs: summary(150),
            groupMedianMs: { backbone: 500, encoder: 200, 'attention-encoder': 30, 'attention-decoder': 10 },
            kernelGpuMedianMs: { encoder_0: 8, decoder_0: 2 },
          }),
          variant('single-webgpu', 4000, {
            ortOpGpuMs: { GridSample: 150, ReduceSum: 250, Conv: 1000, Softmax: 50 },
            maxAbsDiffVsSplit: { pred_logits: 1e-5, pred_boxes: 1e-6 },
          }),
          variant('single-wasm', 2000),
          variant('split-wasm', 800, {
            groupMedianMs: { backbone: 400, 'attention-encoder': 30, 'attention-decoder': 10 },
            preprocessMs: summary(20),
          }),
        ],
        pytorchCpu: { threads: 1, frameMs: summary(1600) },
      },
    ],
  };
}

describe('stage groups', () => {
  it('maps manifest stages to model parts', () => {
    expect(stageGroup('encoder_input', 'graph')).toBe('backbone');
    expect(stageGroup('encoder_1', 'graph')).toBe('encoder');
    expect(stageGroup('encoder_1', 'msDeformAttn')).toBe('attention-encoder');
    expect(stageGroup('decoder_0', 'msDeformAttn')).toBe('attention-decoder');
    expect(stageGroup('memory_values', 'graph')).toBe('encoder');
    expect(stageGroup('patch_queries', 'graph')).toBe('patch-queries');
    expect(stageGroup('patch_head', 'graph')).toBe('decoder');
    expect(stageGroup('head', 'graph')).toBe('decoder');
    expect(stageGroup('single_graph', 'graph')).toBe('single-graph');
  });

  it('sums a run per group and takes per-key medians across runs', () => {
    const run = groupTimes([
      { stage: 'encoder_1', kind: 'graph', ms: 3 },
      { stage: 'encoder_2', kind: 'graph', ms: 4 },
      { stage: 'encoder_1', kind: 'msDeformAttn', ms: 1 },
    ]);
    expect(run).toEqual({ encoder: 7, 'attention-encoder': 1 });
    const median = (v: number[]) => summarize(v).median;
    expect(medianByKey([{ x: 1, y: 5 }, { x: 3 }, { x: 2, y: 7 }], median)).toEqual({ x: 2, y: 6 });
  });
});

describe('model benchmark rendering', () => {
  it('computes ratios, the attention comparison, the re-query fraction and the largest stage', () => {
    expect(ratio(1, 4)).toEqual({ timeRatio: 0.25, speedup: 4 });
    expect(ratio(1, Number.NaN)).toBeUndefined();
    const base = fakeResults();
    for (const v of base.models[0]?.variants ?? []) if (v.variant === 'single-wasm') v.frameMs = summary(20);
    const slower = renderModelMarkdown(base);
    expect(slower).toContain('50.0 (50.0× slower)');
    const h = headline(fakeResults().models[0]);
    expect(h.frameAB.timeRatio).toBeCloseTo(0.25, 12);
    expect(h.frameAC.timeRatio).toBeCloseTo(0.5, 12);
    // timestamps (8 + 2 ms) preferred over the wall medians (30 + 10 ms); (b): GridSample + ReduceSum, not Softmax
    expect(h.attentionA).toEqual({ ms: 10, source: 'timestamp queries' });
    expect(h.attentionAB.speedup).toBeCloseTo(40, 12);
    expect(h.requeryFraction).toBeCloseTo(0.15, 12);
    expect(h.largestStage).toEqual({ group: 'backbone', ms: 500, fraction: 0.5 });
  });

  it('labels SwiftShader as CPU emulation in the markdown, the chart and the bench README section', () => {
    const results = fakeResults();
    const markdown = renderModelMarkdown(results, { json: 'results/x.json', svg: 'results/x.svg' });
    expect(markdown).toContain('CPU emulation');
    expect(markdown).toContain('not GPU speed');
    expect(markdown).toMatch(/\| oneshot-k10 \| 0\.250 \(4\.0× faster\) \| 0\.500 \(2\.0× faster\) \|/);
    expect(markdown).toContain('15%');
    const svg = renderModelSvg(results);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('CPU emulation');
    expect((svg.match(/<rect x="150"/g) ?? []).length).toBe(4); // one bar per implementation
    const readme = '# Benchmarks\n\ntext\n';
    const once = replaceSummarySection(readme, results, { json: 'results/x.json', svg: 'results/x.svg', page: 'MODELS.md' });
    expect(once.indexOf('text')).toBeLessThan(once.indexOf('## Latest full-model run'));
    expect(once).toContain('![frame times](results/x.svg)');
    expect(once).toContain('google / swiftshader (SwiftShader: CPU emulation of a GPU, not GPU speed)');
    const twice = replaceSummarySection(once, results, { json: 'results/x.json', svg: 'results/x.svg', page: 'MODELS.md' });
    expect(twice).toBe(once);
  });

  it('writes MODELS.md and bench/README.md for the main page, and a separate page without touching either', () => {
    const repo = mkdtempSync(join(tmpdir(), 'webdetr-bench-'));
    try {
      mkdirSync(join(repo, 'bench'));
      writeFileSync(join(repo, 'bench', 'README.md'), '# Benchmarks\n');
      const results = fakeResults();
      expect(resultFileBase(results)).toBe('2026-11-23-google-swiftshader-models');
      expect(writeModelPages(repo, results)).toEqual([
        'bench/results/2026-11-23-google-swiftshader-models.json',
        'bench/results/2026-11-23-google-swiftshader-models.svg',
        'bench/MODELS.md',
        'bench/README.md',
      ]);
      const readme = readFileSync(join(repo, 'bench', 'README.md'), 'utf8');
      expect(readme).toContain('## Latest full-model run');
      const models = readFileSync(join(repo, 'bench', 'MODELS.md'), 'utf8');
      expect(writeModelPages(repo, results, { page: 'OFFICIAL' })).toEqual([
        'bench/results/2026-11-23-google-swiftshader-official.json',
        'bench/results/2026-11-23-google-swiftshader-official.svg',
        'bench/OFFICIAL.md',
      ]);
      expect(readFileSync(join(repo, 'bench', 'README.md'), 'utf8')).toBe(readme);
      expect(readFileSync(join(repo, 'bench', 'MODELS.md'), 'utf8')).toBe(models);
      expect(readFileSync(join(repo, 'bench', 'OFFICIAL.md'), 'utf8')).toContain('(results/2026-11-23-google-swiftshader-official.json)');
      expect(JSON.parse(readFileSync(join(repo, 'bench', 'results', '2026-11-23-google-swiftshader-official.json'), 'utf8'))).toEqual(
        results,
      );
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('does not call a real adapter CPU emulation', () => {
    const markdown = renderModelMarkdown(fakeResults({ vendor: 'nvidia', architecture: 'hopper', device: '', description: '' }));
    expect(markdown).not.toContain('CPU emulation');
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
  });
});

describe('the CPU path: (d) against (c)', () => {
  it('gives d/c, the kernel and preprocessing shares and the PyTorch ratio, and renders its table', () => {
    const results = fakeResults();
    const row = cpuPath(results.models[0]);
    expect(row.frameDC.speedup).toBeCloseTo(2.5);
    expect(row.attentionShare).toBeCloseTo(40 / 800);
    expect(row.preprocessShare).toBeCloseTo(20 / 820);
    expect(row.frameDPytorch.speedup).toBeCloseTo(2);
    const markdown = renderModelMarkdown(results);
    expect(markdown).toContain('## The CPU path: (d) against (c)');
    expect(markdown).toMatch(
      /\| oneshot-k10 \| 2\.0 s \| 800 ms \| 0\.400 \(2\.5× faster\) \| 40 ms \(5\.0%\) \| 20 ms \(2\.4%\) \| 1\.6 s \| 0\.500 \(2\.0× faster\) \|/,
    );
    expect(markdown).toContain('(d) ours: split + WebAssembly kernel, WASM');
  });

  it('has no CPU table when (d) did not run', () => {
    const results = fakeResults();
    results.models[0]!.variants = results.models[0]!.variants.filter((v) => v.variant !== 'split-wasm');
    expect(cpuPath(results.models[0])).toBeUndefined();
    expect(renderModelMarkdown(results)).not.toContain('## The CPU path');
  });

  it('a WASM-only run (the CPU page) leaves out the (a)/(b) tables; its chart colours and names (c) and (d) only', () => {
    const results = fakeResults();
    results.models[0]!.variants = results.models[0]!.variants.filter((v) => v.variant.endsWith('-wasm'));
    const markdown = renderModelMarkdown(results);
    expect(markdown).toContain('## The CPU path: (d) against (c)');
    expect(markdown).toContain('## Per model and implementation');
    expect(markdown).not.toContain('## Headline');
    expect(markdown).not.toContain('## Where the time goes in (a)');
    const svg = renderModelSvg(results);
    expect(svg).toContain('fill="#d68910"'); // (d)'s bar and legend entry
    expect(svg).not.toContain('fill="#888"');
    expect(svg).not.toContain('fill="undefined"');
    expect(svg).toContain('(d) ours: split + WebAssembly kernel, WASM');
    expect(svg).not.toContain('(a) ours');
    // With (a) and (b) the headline is there again.
    expect(renderModelMarkdown(fakeResults())).toContain('## Headline');
  });
});
