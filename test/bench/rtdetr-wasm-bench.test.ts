/**
 * RT-DETR r18vd at 640x640 on the CPU path in Node (WEBDETR_RTDETR_BENCH=1; skipped otherwise, it takes minutes):
 * (d) our split pipeline (ORT WASM graphs + the ms_deform_attn_rt WebAssembly kernel) against (c) the single graph
 * on ORT WASM (deformable attention as GridSample), same process, same weights and input. The package is the
 * official rtdetrv2_r18vd_120e_coco architecture with synthetic weights (tools/rtdetr_parity_fixture.py
 * --variant v2-r18vd-coco). Writes bench/results/<date>-node-wasm-rtdetr.json and logs the rows.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/package/manifest';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { maxAbsDiff, readFloat32File, readNpyFloat32 } from '../export/npy';
import { readPackageGraphs } from '../helpers/package-graphs';
import { compareQueries, rtdetrFixture } from '../helpers/rtdetr-fixture';

const FRAMES = Number(process.env.WEBDETR_RTDETR_BENCH_FRAMES ?? 5);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

describe.skipIf(process.env.WEBDETR_RTDETR_BENCH !== '1')('RT-DETR r18vd 640x640, CPU path in Node', () => {
  it('(d) split + WASM kernel vs (c) single graph on ORT WASM', async () => {
    const fixture = rtdetrFixture('v2-r18vd-coco' as 'v2', { singleGraph: true, size: { height: 640, width: 640 } });
    const manifest = parseManifest(JSON.parse(await readFile(join(fixture.dir, 'manifest.json'), 'utf8')));
    const image = { data: readFloat32File(fixture.image), dims: [1, 3, 640, 640] };
    const wantLogits = readNpyFloat32(fixture.expected_logits).data;
    const wantBoxes = readNpyFloat32(fixture.expected_boxes).data;
    const rows: Record<string, unknown>[] = [];
    for (const [label, pipeline] of [
      ['(d) ours: split + WASM kernel, ORT WASM', 'detect'],
      ['(c) single graph, ORT WASM', 'detect_single_graph'],
    ] as const) {
      const started = performance.now();
      const runner = await createCpuPackageRunner({
        manifest,
        graphs: await readPackageGraphs(fixture.dir, manifest, [pipeline]),
        pipelines: [pipeline],
      });
      const first = await runner.run(pipeline, { image });
      const coldMs = performance.now() - started;
      const frames: number[] = [];
      const kernelMs: number[] = [];
      let last = first;
      for (let i = 0; i < FRAMES; i++) {
        const t = performance.now();
        last = await runner.run(pipeline, { image });
        frames.push(performance.now() - t);
        kernelMs.push(last.stages.filter((s) => s.kind === 'msDeformAttnRt').reduce((sum, s) => sum + s.ms, 0));
      }
      await runner.dispose();
      const gotLogits = Float32Array.from(last.outputs.pred_logits?.data ?? []);
      const gotBoxes = Float32Array.from(last.outputs.pred_boxes?.data ?? []);
      // Query selection is a top-300 of 8400 scores: a near-tie at the boundary may pick another query.
      const { logits, boxes, asSet } = compareQueries(gotLogits, gotBoxes, wantLogits, wantBoxes, 80);
      const rowsOff = Array.from({ length: 300 }, (_, q) => q).filter(
        (q) => maxAbsDiff(gotBoxes.subarray(q * 4, q * 4 + 4), wantBoxes.subarray(q * 4, q * 4 + 4)) > 1e-4,
      ).length;
      const row = {
        label,
        pipeline,
        coldMs,
        warmMedianMs: median(frames),
        frames,
        kernelMedianMs: median(kernelMs),
        logits,
        boxes,
        asSet,
        rowsOff,
      };
      console.log(
        `${label}: cold ${(coldMs / 1000).toFixed(2)} s, warm ${median(frames).toFixed(0)} ms (n=${FRAMES}), kernels ${median(kernelMs).toFixed(1)} ms, vs PyTorch ${logits.toExponential(2)} / ${boxes.toExponential(2)}${asSet ? ' (as a set)' : ''}, ${rowsOff} queries off by > 1e-4`,
      );
      rows.push(row);
    }
    const date = new Date().toISOString().slice(0, 10);
    const result = {
      date,
      host: {
        cpus: cpus().length,
        load: loadavg(),
        node: process.version,
        ort: ort.env.versions.common,
        wasmThreads: ort.env.wasm.numThreads ?? 'default',
      },
      model: 'RT-DETRv2 r18vd architecture (rtdetrv2_r18vd_120e_coco), synthetic weights, 640x640',
      rows,
    };
    writeFileSync(`bench/results/${date}-node-wasm-rtdetr.json`, `${JSON.stringify(result, null, 1)}\n`);
    for (const row of rows) {
      expect(row.logits).toBeLessThanOrEqual(1e-3);
      expect(row.boxes).toBeLessThanOrEqual(1e-4);
    }
  }, 1_800_000);
});
