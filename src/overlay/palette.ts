/**
 * The one palette of the demo and the <web-detr> element: twelve saturated, mutually distinct hues,
 * each with the label text colour (black or white) that reads best on it by WCAG contrast.
 * Detections take their colour from the label name, not the class id: ids differ between models
 * (COCO's 91 ids, a 35-class detector, a one-shot model without classes) while "person" stays
 * "person", so a class keeps its colour across models and in both UIs. Query patches walk the same
 * palette by their position.
 */

export type Rgb = readonly [number, number, number];

export interface OverlayColor {
  /** `#rrggbb`: the outline and the label tab. */
  stroke: string;
  /** Label text colour on `stroke` (#000000 or #ffffff, whichever contrasts more). */
  text: string;
  /** `stroke` as 0-255 RGB, for tests that look for it in screenshots. */
  rgb: Rgb;
}

export const PALETTE: readonly string[] = [
  '#ff3838',
  '#ff9d00',
  '#00c853',
  '#2979ff',
  '#d500f9',
  '#00e5ff',
  '#ffd600',
  '#ff4081',
  '#76ff03',
  '#651fff',
  '#ff6e40',
  '#1de9b6',
];

export function hexToRgb(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** WCAG 2.x relative luminance of an sRGB colour. */
export function relativeLuminance(rgb: Rgb): number {
  const linear = rgb.map((channel) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * (linear[0] ?? 0) + 0.7152 * (linear[1] ?? 0) + 0.0722 * (linear[2] ?? 0);
}

/** WCAG contrast ratio, 1 (same) to 21 (black on white). */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

const BLACK: Rgb = [0, 0, 0];
const WHITE: Rgb = [255, 255, 255];

function overlayColor(stroke: string): OverlayColor {
  const rgb = hexToRgb(stroke);
  // Whichever of black and white contrasts more: every colour reaches at least 4.58 with one of them.
  const text = contrastRatio(rgb, BLACK) >= contrastRatio(rgb, WHITE) ? '#000000' : '#ffffff';
  return { stroke, text, rgb };
}

const COLORS: readonly OverlayColor[] = PALETTE.map(overlayColor);

function at(index: number): OverlayColor {
  const n = COLORS.length;
  return COLORS[((index % n) + n) % n] ?? overlayColor('#ff3838');
}

/** Index of a label's colour: FNV-1a of the name, so the same name always gets the same colour. */
export function paletteIndexOf(label: string): number {
  let hash = 2166136261;
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 16777619);
  return (hash >>> 0) % COLORS.length;
}

/** The colour of a detection class, by its label name. */
export function labelColor(label: string): OverlayColor {
  return at(paletteIndexOf(label));
}

/** The colour of query patch `index` (0-based) and its matches; consecutive patches are far apart in hue. */
export function patchColor(index: number): OverlayColor {
  return at(index * 5 + 3);
}

/** Every palette colour with its text colour (for tests and swatches). */
export function paletteColors(): readonly OverlayColor[] {
  return COLORS;
}
