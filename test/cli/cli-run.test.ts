/**
 * The CLI's shared batch loop (cli/core/cli-run.ts) with a stand-in detector: a bad image in the
 * middle is reported and the others finish; the threshold is applied after the engine (asked for
 * threshold 0) so "none" can name the best score; boxes are clamped to the picture.
 */
import { describe, expect, it } from 'vitest';
import type { Detection, DetectionResult, ModelInfo, StageTimings } from '../../src/api/types.js';
import { InputError } from '../../src/errors.js';
import { applyThreshold, clampBox, isFailure, runCli, type CliDetector, type CliImageOutcome } from '../../cli/core/cli-run.js';

const timings = { preprocess: 1, backbone: 0, encoder: 0, decoder: 0, model: 1, postprocess: 0, total: 2, stages: [] } as StageTimings;
const backend = { name: 'wasm' as const, description: 'WASM', reason: 'test' };
const model: ModelInfo = {
  family: 'deformable-detr',
  variant: 'plain',
  classNames: ['cat', 'dog'],
  inputSize: { width: 8, height: 8 },
  oneShot: false,
  detection: true,
  maxPatches: 0,
  scoreThreshold: 0.3,
  downloadBytes: 1,
};
const det = (score: number, x: number, width = 10): Detection => ({
  box: { x, y: -1, width, height: 50 },
  score,
  label: score > 0.5 ? 'cat' : 'dog',
  classId: 0,
});

function fakeDetector(scores: Record<string, number[]>, seen: { threshold?: number }[]): CliDetector<string> {
  return {
    model,
    backend,
    async detect(image, options): Promise<DetectionResult> {
      seen.push({ ...(options?.threshold === undefined ? {} : { threshold: options.threshold }) });
      if (image === 'explodes.png') throw new InputError('the image is empty (0x0)');
      return { detections: (scores[String(image)] ?? []).map((s) => det(s, -4.1)), timings, backend, imageSize: { width: 40, height: 30 } };
    },
    detectWithPatches: () => Promise.reject(new Error('not used')),
    prepareImage: () => Promise.reject(new Error('not used')),
    dispose: async () => undefined,
  };
}

describe('runCli: a batch', () => {
  it('goes on past an unreadable and an undetectable image; every other image has its result, in order, streamed', async () => {
    const seen: { threshold?: number }[] = [];
    const streamed: [number, CliImageOutcome][] = [];
    const response = await runCli<string>(
      {
        modelUrl: 'm',
        backend: 'wasm',
        images: ['a.png', 'missing.png', 'explodes.png', 'b.png'].map((name) => ({ name })),
        patches: [],
        maxDetections: 5,
        raw: false,
      },
      {
        open: async () => fakeDetector({ 'a.png': [0.9, 0.2], 'b.png': [0.25, 0.1] }, seen),
        read: async (image) => {
          if (image.name === 'missing.png')
            throw Object.assign(new Error('could not read missing.png: no such file'), { code: 'image-read', name: 'ImageReadError' });
          return image.name;
        },
        onResult: (outcome, index) => streamed.push([index, outcome]),
      },
    );
    expect(response.ok).toBe(false);
    expect(response.failed).toBe(2);
    if (!('model' in response)) throw new Error('the model loaded');
    expect(response.threshold).toBe(0.3);
    expect(response.results.map((r) => r.image)).toEqual(['a.png', 'missing.png', 'explodes.png', 'b.png']);
    expect(streamed.map(([index]) => index)).toEqual([0, 1, 2, 3]);
    const [a, missing, explodes, b] = response.results;
    expect(missing).toMatchObject({ error: { code: 'image-read', stage: 'image', name: 'ImageReadError' } });
    expect(explodes).toMatchObject({ error: { code: 'invalid-input', stage: 'detect', name: 'InputError' } });
    if (a === undefined || b === undefined || isFailure(a) || isFailure(b)) throw new Error('a and b have results');
    // Threshold 0.3 (the model's) applied here: the engine was asked for 0.
    expect(seen.every((s) => s.threshold === 0)).toBe(true);
    expect(a.detections?.map((d) => d.score)).toEqual([0.9]);
    expect(a.best).toBeUndefined();
    expect(b.detections).toEqual([]);
    expect(b.best).toEqual({ score: 0.25, label: 'dog' });
    // x = -4.1 clamped into the picture: the box keeps its right edge.
    expect(a.detections?.[0]?.box).toEqual({ x: 0, y: 0, width: 10 - 4.1, height: 30 });
  });

  it('a load failure is one typed error and no results', async () => {
    const response = await runCli<string>(
      { modelUrl: 'm', backend: 'wasm', images: [{ name: 'a.png' }], patches: [], maxDetections: 5, raw: false },
      {
        open: () => Promise.reject(Object.assign(new Error('HTTP 404'), { code: 'model-fetch', name: 'ModelFetchError' })),
        read: async () => 'a',
      },
    );
    expect(response).toMatchObject({ ok: false, error: { code: 'model-fetch', stage: 'load' }, results: [] });
  });
});

describe('clampBox / applyThreshold', () => {
  it('boxes never leave the picture and never get negative sizes', () => {
    const size = { width: 100, height: 50 };
    expect(clampBox({ x: -4.1, y: 10, width: 20, height: 60 }, size)).toEqual({ x: 0, y: 10, width: 20 - 4.1, height: 40 });
    expect(clampBox({ x: 120, y: -30, width: 10, height: 10 }, size)).toEqual({ x: 100, y: 0, width: 0, height: 0 });
    expect(clampBox({ x: 1, y: 2, width: 3, height: 4 }, size)).toEqual({ x: 1, y: 2, width: 3, height: 4 });
  });

  it('the same detections as asking the engine with the threshold: a prefix of the sorted list', () => {
    const all = [det(0.9, 1), det(0.5, 2), det(0.5, 3), det(0.2, 4)];
    expect(applyThreshold(all, 0.5, { width: 100, height: 100 }).detections.map((d) => d.box.x)).toEqual([1, 2, 3]);
    expect(applyThreshold(all, 0.95, { width: 100, height: 100 })).toEqual({ detections: [], best: { score: 0.9, label: 'cat' } });
    expect(applyThreshold([], 0.5, { width: 1, height: 1 })).toEqual({ detections: [] });
  });
});
