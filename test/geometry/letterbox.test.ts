/**
 * The picture ↔ surface geometry shared by the demo and <web-detr> (src/geometry/letterbox.ts), and
 * the layering it exists for: the embed and the geometry module import nothing from the demo UI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containFit, outlineRect, toImagePoint, toStage } from '../../src/geometry/letterbox.js';

describe('letterbox geometry', () => {
  it('fits a wide image by width, centred vertically, and maps both ways', () => {
    const fit = containFit({ width: 800, height: 600 }, { width: 400, height: 200 });
    expect(fit).toEqual({ scale: 2, offsetX: 0, offsetY: 100 });
    expect(toStage({ x: 10, y: 20, width: 30, height: 40 }, fit)).toEqual({ x: 20, y: 140, width: 60, height: 80 });
    expect(toImagePoint(20, 140, fit)).toEqual({ x: 10, y: 20 });
  });
  it('an empty picture or stage gets the identity placement', () => {
    expect(containFit({ width: 800, height: 600 }, { width: 0, height: 200 })).toEqual({ scale: 1, offsetX: 0, offsetY: 0 });
  });
  it('keeps an outline inside the picture, pulled in by half the line width', () => {
    const fit = containFit({ width: 800, height: 600 }, { width: 400, height: 200 });
    // Crosses the picture's left and bottom edges (stage y 100..500): clipped to 1.5..498.5.
    expect(outlineRect({ x: -10, y: 150, width: 60, height: 80 }, fit, { width: 400, height: 200 }, 1.5)).toEqual({
      x: 1.5,
      y: 400,
      width: 98.5,
      height: 98.5,
    });
    expect(outlineRect({ x: 10, y: 20, width: 30, height: 40 }, fit, { width: 400, height: 200 }, 1.5)).toEqual(
      toStage({ x: 10, y: 20, width: 30, height: 40 }, fit),
    );
    expect(outlineRect({ x: -10, y: 0, width: 5, height: 5 }, fit, null, 1.5)).toEqual(toStage({ x: -10, y: 0, width: 5, height: 5 }, fit));
  });
});

/** Repository-relative paths of the modules `file` imports by relative specifier. */
function relativeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] ?? '');
  return specifiers.map((s) => relative('.', join(dirname(file), s)));
}

describe('layering', () => {
  const tsFiles = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f));

  it('the <web-detr> element (src/embed) imports nothing from the demo (src/ui)', () => {
    const imports = tsFiles('src/embed').flatMap((file) => relativeImports(file).map((target) => `${file} -> ${target}`));
    expect(imports.length).toBeGreaterThan(0); // the scan sees the embed's imports at all
    expect(imports.filter((line) => line.split(' -> ')[1]?.startsWith('src/ui/'))).toEqual([]);
    // It draws through the overlay shared with the demo (src/overlay), which places boxes with this geometry.
    expect(imports.some((line) => line.split(' -> ')[1]?.startsWith('src/overlay/'))).toBe(true);
  });

  it('the shared overlay (src/overlay) uses this geometry and imports neither the demo nor the embed', () => {
    const imports = tsFiles('src/overlay').flatMap((file) => relativeImports(file));
    expect(imports).toContain('src/geometry/letterbox.js');
    expect(imports.filter((target) => target.startsWith('src/ui/') || target.startsWith('src/embed/'))).toEqual([]);
  });

  it('src/geometry depends on types only, not on the demo, the embed or the runtime', () => {
    const imports = tsFiles('src/geometry').flatMap((file) => relativeImports(file));
    expect(imports.filter((target) => !target.startsWith('src/api/types'))).toEqual([]);
  });
});
