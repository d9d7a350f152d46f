/**
 * Class-wise duplicate suppression (manifest output.duplicateIou, src/postprocess/detections.ts): greedy NMS
 * per class after the top-k, the rule of tools/webdetr_tools/training/evaluate.py's postprocess.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../src/errors';
import { parseManifest, type Manifest } from '../../src/package/manifest';
import { detectionsOf, resolveDetectOptions, suppressDuplicates } from '../../src/postprocess/detections';
import type { RawDetection } from '../../src/postprocess/postprocess';

const raw = (query: number, classId: number, score: number, x: number, width = 10): RawDetection => ({
  query,
  classId,
  score,
  box: { x, y: 0, width, height: 10 },
});

describe('suppressDuplicates', () => {
  it('drops a weaker box of the same class above the IoU, keeps the list order', () => {
    // x 0..10 vs 1..11: IoU 9/11 = 0.818; vs 5..15: IoU 5/15 = 0.333.
    const list = [raw(0, 1, 0.9, 0), raw(1, 1, 0.6, 1), raw(2, 1, 0.5, 5), raw(3, 2, 0.4, 40)];
    expect(suppressDuplicates(list, 0.7).map((d) => d.query)).toEqual([0, 2, 3]);
    expect(suppressDuplicates(list, 0.3).map((d) => d.query)).toEqual([0, 3]);
  });

  it('never suppresses across classes', () => {
    const list = [raw(0, 1, 0.9, 0), raw(0, 2, 0.8, 0), raw(1, 2, 0.7, 1)];
    expect(suppressDuplicates(list, 0.7).map((d) => [d.query, d.classId])).toEqual([
      [0, 1],
      [0, 2],
    ]);
  });

  it('only IoU above the threshold suppresses; a suppressed box suppresses nothing', () => {
    // x 0..10 vs 5..15: IoU exactly 1/3.
    expect(suppressDuplicates([raw(0, 1, 0.9, 0), raw(1, 1, 0.8, 5)], 1 / 3)).toHaveLength(2);
    // b (x 4..14) overlaps a (x 0..10) and c (x 8..18) at IoU 6/14; a and c at 2/18: a and c stay.
    expect(suppressDuplicates([raw(0, 1, 0.9, 0), raw(1, 1, 0.8, 4), raw(2, 1, 0.7, 8)], 0.4).map((d) => d.query)).toEqual([0, 2]);
  });

  it('equal scores: the earlier box in top-k order is kept', () => {
    expect(suppressDuplicates([raw(5, 1, 0.5, 1), raw(2, 1, 0.5, 0)], 0.7).map((d) => d.query)).toEqual([5]);
    expect(suppressDuplicates([raw(2, 1, 0.5, 0), raw(5, 1, 0.5, 1)], 0.7).map((d) => d.query)).toEqual([2]);
  });
});

describe('detectionsOf with output.duplicateIou', () => {
  // Three queries, classes [N/A, cat, dog] (sigmoid): q0 cat 0.9 and q1 cat 0.8 overlap (IoU 0.9), q2 dog 0.85 on q0's box.
  const logit = (p: number) => Math.log(p / (1 - p));
  const logits = {
    data: Float32Array.from([-9, logit(0.9), -9, -9, logit(0.8), -9, -9, -9, logit(0.85)]),
    dims: [1, 3, 3],
  };
  const boxes = { data: Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.51, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), dims: [1, 3, 4] };
  const base = {
    output: {
      classActivation: 'sigmoid',
      classNames: ['N/A', 'cat', 'dog'],
      topK: 9,
      logits: 'l',
      boxes: 'b',
      boxFormat: 'cxcywh-normalized',
    },
  } as unknown as Manifest;
  const size = { width: 100, height: 100 };
  const run = (manifest: Manifest, options = {}) =>
    detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest, { threshold: 0.5, ...options })).map((d) => [
      d.label,
      Number(d.score.toFixed(2)),
    ]);

  it('absent: the output is unchanged', () => {
    expect(run(base)).toEqual([
      ['cat', 0.9],
      ['dog', 0.85],
      ['cat', 0.8],
    ]);
  });

  it('set: the duplicate goes, before the limit counts', () => {
    const manifest = { ...base, output: { ...base.output, duplicateIou: 0.7 } } as Manifest;
    expect(run(manifest)).toEqual([
      ['cat', 0.9],
      ['dog', 0.85],
    ]);
    expect(run(manifest, { classes: ['cat'] })).toEqual([['cat', 0.9]]);
    expect(run(manifest, { maxDetections: 2, threshold: 0 }).map(([label]) => label)).toEqual(['cat', 'dog']);
  });
});

describe('manifest output.duplicateIou', () => {
  const shipped = JSON.parse(readFileSync('public/models/oneshot/manifest.json', 'utf8')) as { output: Record<string, unknown> };
  const withIou = (duplicateIou: unknown) => ({ ...shipped, output: { ...shipped.output, duplicateIou } });

  it('accepts 0..1', () => {
    expect(parseManifest(withIou(0.7)).output.duplicateIou).toBe(0.7);
    expect(parseManifest(withIou(0)).output.duplicateIou).toBe(0);
  });

  it.each([1.5, -0.1, '0.7'])('refuses %s, naming the field', (value) => {
    expect(() => parseManifest(withIou(value))).toThrow(ManifestError);
    expect(() => parseManifest(withIou(value))).toThrow(/\/output\/duplicateIou/);
  });
});
