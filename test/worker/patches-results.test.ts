import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors';
import { parseManifest, type Manifest } from '../../src/package/manifest';
import { fillPatchSlots, patchBoxTensor, patchRects } from '../../src/worker/patches';
import { planPipelines } from '../../src/worker/pipeline-plan';
import { detectionsOf, rawOutputs, resolveDetectOptions } from '../../src/postprocess/detections';
import { bucketOf } from '../../src/worker/timings';

const size = { width: 100, height: 50 };

describe('patchRects', () => {
  it('clips patches hanging over the edge and keeps inside ones exact', () => {
    expect(patchRects([{ x: 10, y: 5, width: 20, height: 10 }], size, 4)).toEqual([[10, 5, 30, 15]]);
    expect(patchRects([{ x: -10, y: 40, width: 30, height: 30 }], size, 4)).toEqual([[0, 40, 20, 50]]);
  });

  it.each([
    ['no patches', []],
    ['too many', Array.from({ length: 5 }, () => ({ x: 0, y: 0, width: 5, height: 5 }))],
    ['zero width', [{ x: 1, y: 1, width: 0, height: 5 }]],
    ['negative height', [{ x: 1, y: 1, width: 5, height: -2 }]],
    ['outside', [{ x: 200, y: 1, width: 5, height: 5 }]],
    ['NaN', [{ x: Number.NaN, y: 1, width: 5, height: 5 }]],
    ['infinite', [{ x: 0, y: 1, width: Number.POSITIVE_INFINITY, height: 5 }]],
    ['sub-pixel', [{ x: 10.1, y: 10.1, width: 0.2, height: 0.2 }]],
  ])('%s -> InputError', (_name, patches) => {
    expect(() => patchRects(patches, size, 4)).toThrow(InputError);
  });
});

describe('patchBoxTensor (box-kind packages)', () => {
  it('gives each clipped rectangle relative to the image as [1, K, 4] x0, y0, x1, y1', () => {
    const rects = patchRects(
      [
        { x: 10, y: 5, width: 20, height: 10 },
        { x: -10, y: 40, width: 200, height: 30 },
      ],
      size,
      4,
    );
    const tensor = patchBoxTensor(rects, size);
    expect(tensor.dims).toEqual([1, 2, 4]);
    expect([...tensor.data]).toEqual([0.1, 0.1, 0.3, 0.3, 0, 0.8, 1, 1].map(Math.fround));
  });
});

const manifest = {
  output: {
    classActivation: 'sigmoid',
    classNames: ['N/A', 'cat', 'dog'],
    topK: 4,
    logits: 'l',
    boxes: 'b',
    boxFormat: 'cxcywh-normalized',
  },
} as unknown as Manifest;

describe('fixed patch slots (packages with a fixed patch count)', () => {
  it('the shipped one-shot package has a symbolic patch count: no slots to fill, only the real patches run', () => {
    const shipped = parseManifest(JSON.parse(readFileSync('public/models/oneshot/manifest.json', 'utf8')));
    {
      const plan = planPipelines(shipped);
      expect(plan.oneShot).toEqual({
        image: 'image',
        patches: 'patches',
        queriesPerPatch: 20,
        zoom: {
          spec: { grid: 2, side: 0.6, below: 0.2, nmsIou: 0.5 },
          describe: 'describe_patches',
          fromDescriptors: 'patches_from_descriptors',
        },
      });
      expect(plan.pipelines).toEqual(['image', 'patches', 'describe_patches', 'patches_from_descriptors']);
      expect(fillPatchSlots([[1, 2, 3, 4]], plan.oneShot?.patchSlots)).toHaveLength(1);
    }
  });

  it('fills unused slots with the last patch; leaves counts alone without fixed slots or when full', () => {
    const a = [1, 2, 3, 4] as const;
    const b = [5, 6, 7, 8] as const;
    expect(fillPatchSlots([a, b], 4)).toEqual([a, b, b, b]);
    expect(fillPatchSlots([a, b], undefined)).toEqual([a, b]);
    expect(fillPatchSlots([a, b], 2)).toEqual([a, b]);
  });

  it("raw outputs keep only the real patches' queries", () => {
    const logits = { data: Float32Array.from({ length: 8 }, (_, i) => i), dims: [1, 8, 1] };
    const boxes = { data: Float32Array.from({ length: 32 }, (_, i) => i), dims: [1, 8, 4] };
    const raw = rawOutputs(logits, boxes, 2);
    expect(raw.logitsDims).toEqual([1, 2, 1]);
    expect([...raw.logits]).toEqual([0, 1]);
    expect(raw.boxesDims).toEqual([1, 2, 4]);
    expect([...raw.boxes]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rawOutputs(logits, boxes).logitsDims).toEqual([1, 8, 1]);
  });
});

describe('detectionsOf', () => {
  // 2 queries x 3 classes; query 0 is a confident dog, query 1 a weak cat.
  const logits = { data: Float32Array.from([-9, -9, 3, -9, -1, -9]), dims: [1, 2, 3] };
  const boxes = { data: Float32Array.from([0.5, 0.5, 0.2, 0.4, 0.1, 0.1, 0.1, 0.1]), dims: [1, 2, 4] };

  it('sigmoid top-k, threshold, labels, boxes in source pixels', () => {
    const out = detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest, { threshold: 0.2 }));
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ label: 'dog', classId: 2 });
    const box = out[0]?.box;
    // (cx - w/2) * width etc.; the float32 inputs make these exact to ~1e-5.
    for (const [value, expected] of [
      [box?.x, 40],
      [box?.y, 15],
      [box?.width, 20],
      [box?.height, 20],
    ] as const)
      expect(value).toBeCloseTo(expected, 4);
    expect(out[0]?.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
    expect(out[1]).toMatchObject({ label: 'cat', classId: 1 });
  });

  it("default threshold: the model's suggested score when the manifest has one, else 0.5; an explicit one wins", () => {
    expect(resolveDetectOptions(manifest).threshold).toBe(0.5);
    const suggesting = { ...manifest, output: { ...manifest.output, scoreThreshold: 0.15 } };
    expect(resolveDetectOptions(suggesting).threshold).toBe(0.15);
    expect(resolveDetectOptions(suggesting, { threshold: 0.6 }).threshold).toBe(0.6);
    // the weak cat (sigmoid(-1) = 0.27) passes 0.15 but not 0.5
    expect(detectionsOf(suggesting, logits, boxes, size, resolveDetectOptions(suggesting))).toHaveLength(2);
    expect(detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest))).toHaveLength(1);
  });

  it('class filter by name or id, limit, bad options', () => {
    expect(
      detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest, { threshold: 0, classes: ['cat'] })).every(
        (d) => d.label === 'cat',
      ),
    ).toBe(true);
    expect(
      detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest, { threshold: 0, classes: [2], maxDetections: 1 })),
    ).toHaveLength(1);
    expect(() => resolveDetectOptions(manifest, { classes: ['unicorn'] })).toThrow(InputError);
    expect(() => resolveDetectOptions(manifest, { classes: [7] })).toThrow(InputError);
    expect(() => resolveDetectOptions(manifest, { maxDetections: -1 })).toThrow(InputError);
    expect(() => resolveDetectOptions(manifest, { threshold: Number.NaN })).toThrow(InputError);
  });

  it('a query group (one-shot patch) is post-processed on its own', () => {
    const second = detectionsOf(manifest, logits, boxes, size, resolveDetectOptions(manifest, { threshold: 0 }), 1, 1);
    expect(second.every((d) => Math.abs(d.box.width - 10) < 1e-4)).toBe(true);
    expect(second).toHaveLength(3);
  });
});

describe('stage buckets', () => {
  it.each([
    ['encoder_input', 'backbone'],
    ['encoder_3', 'encoder'],
    ['image_encoder', 'encoder'],
    ['decoder_0', 'decoder'],
    ['head', 'decoder'],
    ['patch_queries', 'decoder'],
    ['single_graph', 'model'],
  ])('%s -> %s', (stage, bucket) => expect(bucketOf(stage)).toBe(bucket));
});
