/**
 * The picture area: a fixed-size box (space reserved up front, so nothing moves when results
 * arrive) holding two canvases: the image layer (photo or video frame, letterboxed) and the
 * overlay layer (boxes, patches). Both are sized to CSS size × devicePixelRatio, so boxes and
 * labels stay sharp and readable whatever the image resolution.
 */
import { containFit, type Fit } from '../geometry/letterbox.js';

export type StagePicture = ImageBitmap | HTMLVideoElement | HTMLCanvasElement;

export interface Stage {
  readonly element: HTMLElement;
  readonly overlay: HTMLCanvasElement;
  /** Source size of what is shown, or null before the first image. */
  readonly imageSize: { width: number; height: number } | null;
  /** Current CSS-pixel mapping between the image and the stage. */
  fit(): Fit;
  /** CSS size of the stage. */
  size(): { width: number; height: number };
  show(picture: StagePicture, size: { width: number; height: number }): void;
  /** Redraws the current picture (video frames). */
  redrawPicture(): void;
  /** 2D context of the overlay, cleared, in CSS pixels. */
  beginOverlay(): CanvasRenderingContext2D;
  onResize(listener: () => void): void;
}

function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const context = canvas.getContext('2d');
  if (context === null) throw new Error('2D canvas is not available');
  return context;
}

export function createStage(element: HTMLElement, imageLayer: HTMLCanvasElement, overlay: HTMLCanvasElement): Stage {
  let picture: StagePicture | null = null;
  let imageSize: { width: number; height: number } | null = null;
  const listeners: (() => void)[] = [];
  const size = () => ({ width: element.clientWidth, height: element.clientHeight });

  function resizeCanvases(): void {
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = size();
    for (const canvas of [imageLayer, overlay]) {
      canvas.width = Math.max(1, Math.round(width * dpr));
      canvas.height = Math.max(1, Math.round(height * dpr));
    }
  }

  function drawPicture(): void {
    const context = context2d(imageLayer);
    const dpr = window.devicePixelRatio || 1;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, imageLayer.width, imageLayer.height);
    if (picture === null || imageSize === null) return;
    const fit = containFit(size(), imageSize);
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
    context.imageSmoothingQuality = 'high';
    context.drawImage(picture, fit.offsetX, fit.offsetY, imageSize.width * fit.scale, imageSize.height * fit.scale);
  }

  new ResizeObserver(() => {
    resizeCanvases();
    drawPicture();
    for (const listener of listeners) listener();
  }).observe(element);
  resizeCanvases();

  return {
    element,
    overlay,
    get imageSize() {
      return imageSize;
    },
    fit: () => (imageSize === null ? { scale: 1, offsetX: 0, offsetY: 0 } : containFit(size(), imageSize)),
    size,
    show(next, nextSize) {
      picture = next;
      imageSize = { ...nextSize };
      element.classList.add('has-image');
      drawPicture();
    },
    redrawPicture: drawPicture,
    beginOverlay() {
      const context = context2d(overlay);
      const dpr = window.devicePixelRatio || 1;
      context.setTransform(1, 0, 0, 1, 0, 0);
      context.clearRect(0, 0, overlay.width, overlay.height);
      context.setTransform(dpr, 0, 0, dpr, 0, 0);
      return context;
    },
    onResize(listener) {
      listeners.push(listener);
    },
  };
}
