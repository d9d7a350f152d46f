/**
 * Draws an image and its detections on a canvas: one colour per class (stable hash), a label with
 * the score on a filled tab, line width and font scaled to the canvas so boxes stay readable at any
 * size. Patches (one-shot queries) are drawn dashed in their own colour. Outlines are clipped to the
 * picture as in the demo (outlineRect), so a box crossing the canvas edge keeps all four sides visible.
 */
import type { BoxRect, Detection, QueryPatch } from '../api/types.js';
import { outlineRect, type Fit } from '../geometry/letterbox.js';

/** The canvas is the picture at its own pixel size. */
const PICTURE_FIT: Fit = { scale: 1, offsetX: 0, offsetY: 0 };

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324', '#800000', '#469990', '#000075', '#bfef45'];

export function colourOf(key: string | number): string {
  const text = String(key);
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return PALETTE[(hash >>> 0) % PALETTE.length] ?? '#e6194b';
}

export interface DrawnPatch {
  patch: QueryPatch;
  detections: Detection[];
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
  const scale = Math.max(width, height) / 640;
  const line = Math.max(2, 2 * scale);
  const outline = (box: BoxRect): BoxRect => outlineRect(box, PICTURE_FIT, { width, height }, line / 2);
  for (const detection of detections) drawBox(context, detection, outline(detection.box), colourOf(detection.label), line, scale);
  patches.forEach((entry, index) => {
    const colour = PALETTE[(index * 5) % PALETTE.length] ?? '#000';
    context.save();
    context.setLineDash([6 * scale, 4 * scale]);
    context.strokeStyle = colour;
    context.lineWidth = line;
    const rect = outline(entry.patch);
    context.strokeRect(rect.x, rect.y, rect.width, rect.height);
    context.restore();
    for (const detection of entry.detections) drawBox(context, detection, outline(detection.box), colour, line, scale);
  });
}

/** `rect`: the detection's outline clipped to the canvas. */
function drawBox(context: CanvasRenderingContext2D, detection: Detection, rect: BoxRect, colour: string, line: number, scale: number): void {
  context.strokeStyle = colour;
  context.lineWidth = line;
  context.strokeRect(rect.x, rect.y, rect.width, rect.height);
  const text = `${detection.label} ${(detection.score * 100).toFixed(0)}%`;
  const fontSize = Math.max(12, Math.round(13 * scale));
  context.font = `${fontSize}px system-ui, sans-serif`;
  const textWidth = context.measureText(text).width + 6;
  // The tab stays on the canvas too (a box at the right edge would push it off).
  const x = Math.min(rect.x, Math.max(0, context.canvas.width - textWidth));
  const tabY = rect.y - fontSize - 4 < 0 ? rect.y : rect.y - fontSize - 4;
  context.fillStyle = colour;
  context.fillRect(x, tabY, textWidth, fontSize + 4);
  context.fillStyle = '#fff';
  context.fillText(text, x + 3, tabY + fontSize);
}
