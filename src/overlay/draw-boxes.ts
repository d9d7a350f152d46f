/**
 * The one routine that draws boxes, query patches and their labels, for the demo's overlay (CSS
 * pixels over a letterboxed stage) and <web-detr>'s canvas (the picture at its own pixel size).
 * Boxes are painted in ascending score order, each outline with its label tab (label-layout.ts), so
 * where boxes overlap the best detection's outline and label are on top and readable. A highlighted
 * box is drawn thicker and last; the others fade back.
 */
import type { BoxRect } from '../api/types.js';
import { outlineRect, toStage, type Fit } from '../geometry/letterbox.js';
import { paintOrder, placeLabel, type Size } from './label-layout.js';
import type { OverlayColor } from './palette.js';

export interface OverlayBox {
  /** Picture pixels. */
  box: BoxRect;
  color: OverlayColor;
  label: string;
  /** Paint order (highest on top); query patches have none and lie above every match. */
  score?: number;
  /** Query patches are dashed so they read as "what you asked for", not a result. */
  dashed?: boolean;
  /** The selected patch: drawn with corner handles. */
  selected?: boolean;
}

export interface OverlayStyle {
  lineWidth: number;
  highlightWidth: number;
  fontPx: number;
  /** Label tab padding around the text. */
  pad: number;
  dash: [number, number];
  /** Side of a selected patch's corner handles. */
  handle: number;
}

/**
 * Sizes for a surface where `scale` surface pixels make one CSS pixel of the intended look; never
 * smaller than scale 1, so labels stay readable on a small picture.
 */
export function overlayStyle(scale = 1): OverlayStyle {
  const s = Math.max(1, scale);
  return { lineWidth: 3 * s, highlightWidth: 5 * s, fontPx: Math.round(13 * s), pad: 4 * s, dash: [8 * s, 5 * s], handle: 8 * s };
}

/** How the picture lies on the surface being drawn on. */
export interface OverlayView {
  fit: Fit;
  /** Source size of the picture: outlines and labels stay inside it. Null: the whole surface. */
  picture: Size | null;
  /** Surface size, the bounds when `picture` is null. */
  surface: Size;
  style: OverlayStyle;
}

/** "cat 87%": the label text of a scored box. */
export function scoreLabel(label: string, score: number): string {
  return `${label} ${Math.round(score * 100)}%`;
}

/** The picture's rectangle on the surface (labels are kept inside it). */
export function labelBounds(view: OverlayView): BoxRect {
  if (view.picture === null) return { x: 0, y: 0, width: view.surface.width, height: view.surface.height };
  return toStage({ x: 0, y: 0, ...view.picture }, view.fit);
}

/** Where a box's outline is drawn on the surface (clipped into the picture, all four sides visible). */
export function outlineOf(item: OverlayBox, view: OverlayView, highlighted = false): BoxRect {
  const width = highlighted ? view.style.highlightWidth : view.style.lineWidth;
  return outlineRect(item.box, view.fit, view.picture, width / 2);
}

function drawOutline(context: CanvasRenderingContext2D, item: OverlayBox, view: OverlayView, highlighted: boolean): void {
  const rect = outlineOf(item, view, highlighted);
  const { style } = view;
  context.lineWidth = highlighted ? style.highlightWidth : style.lineWidth;
  context.strokeStyle = item.color.stroke;
  context.setLineDash(item.dashed ? style.dash : []);
  if (highlighted) {
    context.fillStyle = item.color.stroke;
    const alpha = context.globalAlpha;
    context.globalAlpha = 0.18;
    context.fillRect(rect.x, rect.y, rect.width, rect.height);
    context.globalAlpha = alpha;
  }
  context.strokeRect(rect.x, rect.y, rect.width, rect.height);
  context.setLineDash([]);
  if (item.selected) {
    context.fillStyle = item.color.stroke;
    const h = style.handle;
    for (const [hx, hy] of [
      [rect.x, rect.y],
      [rect.x + rect.width, rect.y],
      [rect.x, rect.y + rect.height],
      [rect.x + rect.width, rect.y + rect.height],
    ] as const) {
      context.fillRect(hx - h / 2, hy - h / 2, h, h);
    }
  }
}

function drawLabel(context: CanvasRenderingContext2D, item: OverlayBox, view: OverlayView, highlighted: boolean, bounds: BoxRect): void {
  const { style } = view;
  const tab = { width: context.measureText(item.label).width + style.pad * 2, height: style.fontPx + style.pad * 2 - 2 };
  const lineWidth = highlighted ? style.highlightWidth : style.lineWidth;
  const { x, y } = placeLabel(outlineOf(item, view, highlighted), tab, bounds, lineWidth);
  context.fillStyle = item.color.stroke;
  context.fillRect(x, y, tab.width, tab.height);
  context.fillStyle = item.color.text;
  context.fillText(item.label, x + style.pad, y + tab.height / 2 + 0.5);
}

/** Draws every box; `highlight` (an index into `boxes`) is emphasised and drawn last. */
export function drawBoxes(
  context: CanvasRenderingContext2D,
  boxes: readonly OverlayBox[],
  view: OverlayView,
  highlight: number | null = null,
): void {
  const bounds = labelBounds(view);
  context.save();
  context.font = `600 ${view.style.fontPx}px system-ui, -apple-system, "Segoe UI", sans-serif`;
  context.textBaseline = 'middle';
  for (const index of paintOrder(boxes, highlight)) {
    const item = boxes[index];
    if (item === undefined) continue;
    const highlighted = index === highlight;
    context.globalAlpha = highlight === null || highlighted ? 1 : 0.45;
    drawOutline(context, item, view, highlighted);
    drawLabel(context, item, view, highlighted, bounds);
  }
  context.restore();
}
