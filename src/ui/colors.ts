/**
 * Box colours: one per class (stable across runs: the class id picks it) and one per query patch.
 * Saturated, mutually distinct hues with a contrasting label text colour for each.
 */

export interface BoxColor {
  /** CSS colour of the outline and the label background. */
  stroke: string;
  /** Label text colour readable on `stroke`. */
  text: string;
  /** The same colour as 0-255 RGB, for tests that look for it in screenshots. */
  rgb: [number, number, number];
}

const PALETTE: [number, number, number][] = [
  [255, 56, 56], [255, 157, 0], [0, 200, 83], [41, 121, 255], [213, 0, 249], [0, 229, 255],
  [255, 214, 0], [255, 64, 129], [118, 255, 3], [101, 31, 255], [255, 110, 64], [29, 233, 182],
];

function toColor(rgb: [number, number, number]): BoxColor {
  const [r, g, b] = rgb;
  // Relative luminance decides between black and white label text.
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return { stroke: `rgb(${r}, ${g}, ${b})`, text: luminance > 150 ? '#000' : '#fff', rgb };
}

export function classColor(classId: number): BoxColor {
  const index = ((classId * 7) % PALETTE.length + PALETTE.length) % PALETTE.length;
  return toColor(PALETTE[index] ?? [255, 56, 56]);
}

/** Patch colours walk the palette from a different start so patch 1 is not the "person" red. */
export function patchColor(patchIndex: number): BoxColor {
  return toColor(PALETTE[(patchIndex * 5 + 3) % PALETTE.length] ?? [41, 121, 255]);
}
