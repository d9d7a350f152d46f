/**
 * Draws boxes with their labels on the overlay canvas. Sizes are in CSS pixels (the stage scales
 * the context by devicePixelRatio), so a label is the same readable size on a 300 px thumbnail
 * and on a 4K photo. A highlighted box is drawn thicker and on top; the others fade back.
 */
import type { BoxRect } from '../api/types.js';
import type { BoxColor } from './colors.js';
import { outlineRect, toStage, type Fit } from '../geometry/letterbox.js';

export interface DrawnBox {
  /** Source-image pixels. */
  box: BoxRect;
  color: BoxColor;
  label: string;
  /** Query patches are dashed so they read as "what you asked for", not a result. */
  dashed?: boolean;
  /** Selected patch: drawn with resize handles. */
  selected?: boolean;
}

export const LINE_WIDTH = 3;
const HIGHLIGHT_WIDTH = 5;
const FONT_PX = 13;
const LABEL_PAD = 4;

function drawLabel(context: CanvasRenderingContext2D, rect: BoxRect, item: DrawnBox, stageWidth: number): void {
  context.font = `600 ${FONT_PX}px system-ui, -apple-system, "Segoe UI", sans-serif`;
  const textWidth = context.measureText(item.label).width;
  const width = textWidth + LABEL_PAD * 2;
  const height = FONT_PX + LABEL_PAD * 2 - 2;
  const half = LINE_WIDTH / 2;
  // Above the box when there is room, else just inside its top edge.
  const y = rect.y - half - height >= 0 ? rect.y - half - height : rect.y + half;
  const x = Math.min(Math.max(rect.x - half, 0), Math.max(0, stageWidth - width));
  context.fillStyle = item.color.stroke;
  context.fillRect(x, y, width, height);
  context.fillStyle = item.color.text;
  context.textBaseline = 'middle';
  context.fillText(item.label, x + LABEL_PAD, y + height / 2 + 0.5);
}

function drawOne(context: CanvasRenderingContext2D, item: DrawnBox, fit: Fit, stageWidth: number, highlighted: boolean, picture: Picture): void {
  const rect = outlineRect(item.box, fit, picture, (highlighted ? HIGHLIGHT_WIDTH : LINE_WIDTH) / 2);
  context.save();
  context.lineWidth = highlighted ? HIGHLIGHT_WIDTH : LINE_WIDTH;
  context.strokeStyle = item.color.stroke;
  context.setLineDash(item.dashed ? [8, 5] : []);
  if (highlighted) {
    context.fillStyle = item.color.stroke;
    context.globalAlpha = 0.18;
    context.fillRect(rect.x, rect.y, rect.width, rect.height);
    context.globalAlpha = 1;
  }
  context.strokeRect(rect.x, rect.y, rect.width, rect.height);
  context.setLineDash([]);
  if (item.selected) {
    context.fillStyle = item.color.stroke;
    for (const [hx, hy] of [[rect.x, rect.y], [rect.x + rect.width, rect.y], [rect.x, rect.y + rect.height], [rect.x + rect.width, rect.y + rect.height]] as const) {
      context.fillRect(hx - 4, hy - 4, 8, 8);
    }
  }
  drawLabel(context, rect, item, stageWidth);
  context.restore();
}

/** Source size of the picture the boxes belong to (outlines stay inside it); null: no clipping. */
type Picture = { width: number; height: number } | null;

/** Draws every box; `highlight` (an index into `boxes`) is emphasised and drawn last. */
export function renderBoxes(context: CanvasRenderingContext2D, boxes: readonly DrawnBox[], fit: Fit, stageWidth: number, highlight: number | null, picture: Picture = null): void {
  boxes.forEach((item, index) => {
    if (index === highlight) return;
    context.globalAlpha = highlight === null ? 1 : 0.45;
    drawOne(context, item, fit, stageWidth, false, picture);
  });
  context.globalAlpha = 1;
  const top = highlight === null ? undefined : boxes[highlight];
  if (top !== undefined) drawOne(context, top, fit, stageWidth, true, picture);
}

/** Index of the smallest box under a stage point (smallest wins: nested boxes stay reachable). */
export function boxAt(boxes: readonly DrawnBox[], fit: Fit, point: { x: number; y: number }): number | null {
  let best: number | null = null;
  let bestArea = Infinity;
  boxes.forEach((item, index) => {
    const rect = toStage(item.box, fit);
    const inside = point.x >= rect.x && point.x <= rect.x + rect.width && point.y >= rect.y && point.y <= rect.y + rect.height;
    if (inside && rect.width * rect.height < bestArea) {
      best = index;
      bestArea = rect.width * rect.height;
    }
  });
  return best;
}
