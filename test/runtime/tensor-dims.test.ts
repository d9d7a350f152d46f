import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors';
import { bindDims, resolveDims } from '../../src/runtime/tensor-dims';

describe('symbolic manifest dims', () => {
  it('binds a symbol from an input and sizes the outputs that use it (UP-DETR patches)', () => {
    const symbols = new Map<string, number>();
    bindDims('patches', [1, 'patches', 3, 128, 128], [1, 2, 3, 128, 128], symbols);
    expect(symbols.get('patches')).toBe(2);
    expect(resolveDims(['patches*10', 1, 256], symbols)).toEqual([20, 1, 256]);
    expect(resolveDims([1, '10 * patches + 1', 4], symbols)).toEqual([1, 21, 4]);
    bindDims('patches', [1, 'patches', 3, 128, 128], [1, 1, 3, 128, 128], symbols);
    expect(resolveDims(['patches*10', 1, 256], symbols)).toEqual([10, 1, 256]);
  });

  it('leaves outputs with unbound symbols to the graph', () => {
    expect(resolveDims(['queries', 4], new Map())).toBeUndefined();
    expect(resolveDims([300, 4], new Map())).toEqual([300, 4]);
  });

  it('rejects inputs whose fixed dims, rank or derived dims disagree', () => {
    const symbols = new Map([['patches', 2]]);
    expect(() => bindDims('image', [1, 3, 64, 96], [1, 3, 64, 95], symbols)).toThrow(InputError);
    expect(() => bindDims('image', [1, 3, 64, 96], [3, 64, 96], symbols)).toThrow(/expected 4 dims/);
    expect(() => bindDims('queries', ['patches*10', 256], [19, 256], symbols)).toThrow(/must be 20/);
    expect(() => bindDims('image', [1, 3, 64, 96], [1, 3, 64, 96.5], symbols)).toThrow(InputError);
  });
});
