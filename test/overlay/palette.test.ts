/** The shared overlay palette: readable label text on every colour, one colour per label name. */
import { describe, expect, it } from 'vitest';
import { contrastRatio, hexToRgb, labelColor, paletteColors, patchColor, relativeLuminance } from '../../src/overlay/palette.js';

describe('palette', () => {
  it('has twelve distinct colours', () => {
    expect(new Set(paletteColors().map((c) => c.stroke)).size).toBe(12);
  });

  it('gives label text a WCAG contrast of at least 4.5 on every colour', () => {
    for (const color of paletteColors()) {
      const ratio = contrastRatio(hexToRgb(color.text), color.rgb);
      expect(ratio, `${color.text} on ${color.stroke}: ${ratio.toFixed(2)}`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('computes WCAG luminance and contrast (reference values)', () => {
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 10);
    expect(contrastRatio([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 10);
    expect(contrastRatio([255, 255, 255], [0, 0, 0])).toBeCloseTo(21, 10);
    // #777 on white is the classic borderline grey: 4.48.
    expect(contrastRatio(hexToRgb('#777777'), [255, 255, 255])).toBeCloseTo(4.48, 2);
  });

  it('picks a colour by label name, the same every time and whatever the class id', () => {
    expect(labelColor('person')).toEqual(labelColor('person'));
    const names = ['person', 'bicycle', 'car', 'dog', 'cat', 'cup', 'bottle', 'chair', 'tv', 'bird'];
    expect(new Set(names.map((n) => labelColor(n).stroke)).size).toBeGreaterThan(5);
    for (const name of names) expect(paletteColors()).toContainEqual(labelColor(name));
  });

  it('gives consecutive patches different colours, as hex and matching rgb', () => {
    const strokes = [0, 1, 2, 3].map((i) => patchColor(i).stroke);
    expect(new Set(strokes).size).toBe(4);
    expect(patchColor(0).rgb).toEqual(hexToRgb(patchColor(0).stroke));
    expect(patchColor(12)).toEqual(patchColor(0));
  });
});
