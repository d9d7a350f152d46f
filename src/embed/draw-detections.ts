/**
 * What <web-detr> draws: the picture at its own pixel size, then its detections (one colour per
 * label name) and its query patches with their matches (one colour per patch), through the overlay
 * routine the demo uses (src/overlay/draw-boxes.ts). Sizes scale with the canvas, so boxes and
 * labels stay readable when CSS shrinks a large picture.
 */
import type { Detection, QueryPatch } from '../api/types.js';
import { drawBoxes, overlayStyle, scoreLabel, type OverlayBox, type OverlayView } from '../overlay/draw-boxes.js';
import { labelColor, patchColor } from '../overlay/palette.js';

export interface DrawnPatch {
  patch: QueryPatch;
  detections: Detection[];
  selected?: boolean;
}

/** The canvas is the picture at its own pixel size; the look is the demo's at 640 px. */
export function pictureView(width: number, height: number): OverlayView {
  return {
    fit: { scale: 1, offsetX: 0, offsetY: 0 },
    picture: { width, height },
    surface: { width, height },
    style: overlayStyle(Math.max(width, height) / 640),
  };
}

export function sceneBoxes(detections: readonly Detection[], patches: readonly DrawnPatch[]): OverlayBox[] {
  const boxes: OverlayBox[] = detections.map((d) => ({
    box: d.box,
    color: labelColor(d.label),
    label: scoreLabel(d.label, d.score),
    score: d.score,
  }));
  patches.forEach((entry, index) => {
    const color = patchColor(index);
    boxes.push({ box: entry.patch, color, label: `Patch ${index + 1}`, dashed: true, selected: entry.selected ?? false });
    for (const d of entry.detections) boxes.push({ box: d.box, color, label: scoreLabel(d.label, d.score), score: d.score });
  });
  return boxes;
}

export function drawScene(
  context: CanvasRenderingContext2D,
  image: CanvasImageSource & { width: number; height: number },
  detections: readonly Detection[],
  patches: readonly DrawnPatch[] = [],
): void {
  const { width, height } = context.canvas;
  context.clearRect(0, 0, width, height);
  context.drawImage(image, 0, 0, width, height);
  drawBoxes(context, sceneBoxes(detections, patches), pictureView(width, height));
}
