import { describe, expect, it } from 'vitest';
import { batchProgress, cliWords, formatResult, formatTable, progressBar, progressLine } from '../../cli/format.mjs';
import type { CliResponse } from '../../cli/core/cli-run.js';
import type { StageTimings } from '../../src/api/types.js';

const timings = { preprocess: 1, backbone: 2, encoder: 3, decoder: 4, model: 9, postprocess: 1, total: 11.4, stages: [] } as StageTimings;
const backend = { name: 'wasm' as const, description: 'wasm (4 threads)', reason: 'forced' };
const detection = (label: string, score: number, x: number) => ({
  box: { x, y: 2.25, width: 30, height: 40.06 },
  score,
  label,
  classId: 1,
});
const model = {
  family: 'up-detr' as const,
  variant: 'pretrain',
  classNames: ['match'],
  inputSize: { width: 96, height: 64 },
  oneShot: true,
  detection: false,
  maxPatches: 10,
  scoreThreshold: 0.5,
  downloadBytes: 5,
};

describe('CLI table output', () => {
  it('one aligned row per detection, boxes to 0.1 px, scores to 0.001', () => {
    const response: CliResponse = {
      ok: true,
      model: { ...model, family: 'deformable-detr', variant: 'plain', classNames: ['N/A', 'person', 'traffic light'] },
      backend,
      loadMs: 5,
      threshold: 0.5,
      failed: 0,
      results: [
        {
          image: 'a.png',
          imageSize: { width: 640, height: 480 },
          detections: [detection('person', 0.98765, 1), detection('traffic light', 0.5, 123.456)],
          timings,
          backend,
        },
      ],
    };
    const lines = formatTable(response).split('\n');
    expect(lines[0]).toBe('model: deformable-detr plain, input 96x64, 3 classes');
    expect(lines[1]).toBe('backend: wasm (wasm (4 threads); forced)');
    expect(lines[2]).toBe("threshold: 0.50 (the model's suggested score); boxes are clamped to the picture");
    expect(lines[4]).toBe('a.png (640x480, wasm, 11 ms)');
    expect(lines[5]).toMatch(/^\s+#\s+label\s+score\s+x\s+y\s+width\s+height$/);
    expect(lines[6]).toMatch(/^\s+1\s+person\s+0\.988\s+1\.0\s+2\.3\s+30\.0\s+40\.1$/);
    expect(lines[7]).toMatch(/^\s+2\s+traffic light\s+0\.500\s+123\.5\s/);
    // Columns line up: the score column ends at the same offset in every row.
    expect(lines[6]?.indexOf('0.988')).toBe(lines[7]?.indexOf('0.500'));
  });

  it('groups one-shot results by patch (given as corners) and says when nothing matched', () => {
    const response: CliResponse = {
      ok: true,
      model,
      backend,
      loadMs: 5,
      threshold: 0.25,
      failed: 0,
      results: [
        {
          image: 'shelf.jpg',
          imageSize: { width: 200, height: 100 },
          patches: [
            { patch: { x: 10, y: 20, width: 30, height: 40 }, detections: [detection('match', 0.7, 5)], views: 1 },
            { patch: { x: 0, y: 0, width: 5, height: 5 }, detections: [], views: 5, best: { score: 0.1234, label: 'match' } },
          ],
          reusedImageFeatures: false,
          timings,
          backend,
        },
      ],
    };
    const text = formatTable(response);
    expect(text).toContain('  patch 1: 10.0,20.0,40.0,60.0\n');
    expect(text).toMatch(
      /patch 2: 0\.0,0\.0,5\.0,5\.0 \(zoomed search: 5 views\)\n\s+\(no detections at or above the threshold 0\.25; the best score was 0\.123 \(match\)\)/,
    );
    expect(text).toContain('threshold: 0.25;');
  });

  it('progress lines: per file on start and finish, one at ready; a bar only for byte progress', () => {
    expect(progressLine({ status: 'initiate', file: 'a.onnx', url: 'u', total: 2_500_000 })).toBe('loading a.onnx (2.5 MB)');
    expect(
      progressLine({ status: 'initiate', file: 'a.onnx', url: 'u', total: 2_500_000, fileIndex: 0, fileCount: 3, totalBytes: 9_000_000 }),
    ).toBe('[1/3] loading a.onnx (2.5 MB) of 9.0 MB in all');
    expect(
      progressLine({ status: 'initiate', file: 'b.onnx', url: 'u', total: 500, fileIndex: 1, fileCount: 3, totalBytes: 9_000_000 }),
    ).toBe('[2/3] loading b.onnx (0.5 kB)');
    expect(progressLine({ status: 'done', file: 'a.onnx', total: 1, fromCache: true })).toBe('loaded a.onnx from cache');
    expect(progressLine({ status: 'ready', files: 1, totalBytes: 1500 })).toBe('model ready: 1 file, 1.5 kB');
    expect(progressLine({ status: 'progress', file: 'a.onnx', loaded: 1, total: 2 })).toBeUndefined();
    expect(progressBar({ status: 'progress', file: 'a.onnx', loaded: 1_000_000, total: 4_000_000 })).toBe('  a.onnx 1.0/4.0 MB (25%)');
    // The steps after the download, where the engine reports them (typed loosely: newer events).
    const later = (event: object) => progressLine(event as Parameters<typeof progressLine>[0]);
    expect(later({ status: 'preparing', step: 'sessions', graphs: 7 })).toBe('preparing: creating 7 onnxruntime sessions');
    expect(later({ status: 'preparing', step: 'runtime' })).toBe("preparing: starting onnxruntime's WebAssembly");
    expect(later({ status: 'prepared', ms: { runtime: 1200, sessions: 2345 } })).toBe('model prepared (runtime 1.2 s, sessions 2.3 s)');
  });

  it('a failed image is one line with its step, error name, code and message; the header stays', () => {
    const response: CliResponse = {
      ok: false,
      model,
      backend,
      loadMs: 5,
      threshold: 0.5,
      failed: 1,
      results: [
        {
          image: 'bad.jpg',
          error: {
            code: 'invalid-input',
            name: 'InputError',
            message: 'could not decode the JPEG: Not a JPEG file',
            stage: 'image',
            image: 'bad.jpg',
          },
        },
        { image: 'b.png', imageSize: { width: 10, height: 10 }, detections: [], timings, backend },
      ],
    };
    const text = formatTable(response);
    expect(text.split('\n')[0]).toMatch(/^model: up-detr pretrain/);
    expect(text).toContain('\nbad.jpg: reading failed: InputError [invalid-input]: could not decode the JPEG: Not a JPEG file\n');
    expect(text).toContain('b.png (10x10, wasm, 11 ms)\n  (no detections at or above the threshold 0.50; the model gave no candidates)');
  });

  it('says the CLI flag where the engine names the JS option', () => {
    expect(
      cliWords('the WebGPU adapter is a CPU fallback (x), where WASM is far faster; pass backend: "webgpu" to use it anyway'),
    ).toContain('pass --backend webgpu to use it anyway');
    expect(cliWords('WASM was asked for (backend: "wasm")')).toBe('WASM was asked for (--backend wasm)');
    expect(cliWords('backend "webgpu" was asked for, but navigator.gpu is undefined')).toBe(
      '--backend webgpu was asked for, but navigator.gpu is undefined',
    );
    const failed = formatResult({
      image: 'a.png',
      error: { code: 'webgpu-unavailable', name: 'WebGpuUnavailableError', message: 'pass backend: "webgpu"', stage: 'detect' },
    });
    expect(failed).toContain('detecting failed: WebGpuUnavailableError [webgpu-unavailable]: pass --backend webgpu');
    expect(failed).not.toContain('backend: "');
  });

  it('the batch line: done/total, mean time per image, time left, failures', () => {
    expect(batchProgress(0, 100, 0, 0, 'a.jpg')).toBe('[0/100] a.jpg');
    expect(batchProgress(10, 100, 1, 12_000, 'k.jpg')).toBe('[10/100] k.jpg (1.20 s/image, 1:48 left, 1 failed)');
  });
});
