import { describe, expect, it } from 'vitest';
import { cxcywhToPixelBox, postprocessSigmoidTopK, postprocessSoftmax } from '../../src/postprocess/postprocess.js';

const size = { width: 200, height: 100 };

describe('post-processing', () => {
  it('converts normalized cxcywh to source-pixel boxes', () => {
    const box = cxcywhToPixelBox(new Float32Array([0.5, 0.5, 0.5, 0.25]), 0, size);
    expect(box).toEqual({ x: 50, y: 37.5, width: 100, height: 25 });
  });

  it('sigmoid top-k ranks (query, class) pairs over all queries and classes', () => {
    // 3 queries x 2 classes; query 2 wins in both classes, query 0 class 1 is third.
    const logits = new Float32Array([-5, 1, -3, -4, 4, 2]);
    const boxes = new Float32Array([0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.2, 0.2, 0.9, 0.9, 0.2, 0.2]);
    const result = postprocessSigmoidTopK(logits, boxes, 3, 2, size, 3);
    expect(result.map((d) => [d.query, d.classId])).toEqual([
      [2, 0],
      [2, 1],
      [0, 1],
    ]);
    expect(result[0]?.score).toBeCloseTo(1 / (1 + Math.exp(-4)), 12);
    expect(result[0]?.box.x).toBeCloseTo((0.9 - 0.1) * 200, 4);
  });

  it('sigmoid top-k is capped by Q x C and breaks ties by flat index', () => {
    const result = postprocessSigmoidTopK(new Float32Array([0, 0, 0, 0]), new Float32Array(8), 2, 2, size, 100);
    expect(result.map((d) => d.query * 2 + d.classId)).toEqual([0, 1, 2, 3]);
  });

  it('softmax keeps the best real class and ignores no-object', () => {
    // 2 queries x (2 classes + no-object).
    const logits = new Float32Array([0, 1, 5, 3, 0, 0]);
    const result = postprocessSoftmax(logits, new Float32Array(8), 2, 3, size);
    expect(result[0]).toMatchObject({ query: 1, classId: 0 });
    const e = [Math.exp(3), 1, 1];
    expect(result[0]?.score).toBeCloseTo(e[0]! / (e[0]! + e[1]! + e[2]!), 12);
    const f = [1, Math.exp(1), Math.exp(5)];
    expect(result[1]).toMatchObject({ query: 0, classId: 1 });
    expect(result[1]?.score).toBeCloseTo(f[1]! / (f[0]! + f[1]! + f[2]!), 12);
  });

  it('rejects arrays shorter than the shape', () => {
    expect(() => postprocessSigmoidTopK(new Float32Array(3), new Float32Array(8), 2, 2, size, 1)).toThrow(RangeError);
    expect(() => postprocessSoftmax(new Float32Array(6), new Float32Array(8), 2, 1, size)).toThrow(RangeError);
  });
});
