/**
 * Browser side of e2e/embed-lifecycle.spec.ts: a <web-detr> element on the tiny test package (WASM)
 * is removed and put back. Reports what the element held before and after, how often its picture was
 * fetched, its detections each time and its status line; and what the element's drawing code does
 * with a box that crosses the picture's edge.
 */
import { drawScene } from '../../src/embed/draw-detections.js';
import { labelColor } from '../../src/overlay/palette.js';
import { defineWebDetrElement, type DetectionsEventDetail, type WebDetrElement } from '../../src/embed/index.js';

export interface LifecycleResult {
  first: number[];
  /** The element's decoded bitmap after removal: a closed ImageBitmap reports 0x0. */
  bitmapAfterRemoval: { width: number; height: number } | 'none';
  heldAfterRemoval: { image: boolean; imageSrc: string; detector: boolean };
  again: number[];
  imageFetches: number;
  /** The element's status line after the first detections, and the backend reason the event gave. */
  status: string;
  backendReason: string;
  errors: string[];
}

/** RGB of named probe points, and the colour the box should have there. */
export interface OutlineProbe {
  colour: string;
  pixels: Record<string, [number, number, number]>;
}

/**
 * drawScene (what <web-detr> draws with) on a white 120x80 picture with one box from (-30, 30) to
 * (50, 110): it crosses the left and bottom edges. Clipped, its outline runs along x = 1.5 and y = 78.5
 * (line width 3); unclipped, those sides would be off the canvas and the probes there white.
 */
async function clippedOutline(): Promise<OutlineProbe> {
  const white = new OffscreenCanvas(120, 80);
  const whiteContext = white.getContext('2d');
  if (!whiteContext) throw new Error('no 2d context');
  whiteContext.fillStyle = '#fff';
  whiteContext.fillRect(0, 0, 120, 80);
  const picture = await createImageBitmap(white);
  const canvas = document.createElement('canvas');
  canvas.width = 120;
  canvas.height = 80;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d context');
  drawScene(context, picture, [{ box: { x: -30, y: 30, width: 80, height: 80 }, score: 0.9, label: 'person', classId: 1 }]);
  picture.close();
  const probes: Record<string, [number, number]> = {
    left0: [0, 55],
    left1: [1, 55],
    bottom: [25, 79],
    bottomInner: [25, 78],
    right: [50, 55],
    inside: [25, 55],
  };
  const pixels: OutlineProbe['pixels'] = {};
  for (const [name, [x, y]] of Object.entries(probes)) {
    const [r = 0, g = 0, b = 0] = context.getImageData(x, y, 1, 1).data;
    pixels[name] = [r, g, b];
  }
  return { colour: labelColor('person').stroke, pixels };
}

interface Internals {
  image?: ImageBitmap;
  imageSrc: string;
  detector?: unknown;
}

async function pictureUrl(): Promise<string> {
  const canvas = new OffscreenCanvas(120, 80);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d context');
  const gradient = context.createLinearGradient(0, 0, 120, 80);
  gradient.addColorStop(0, '#c33');
  gradient.addColorStop(1, '#39c');
  context.fillStyle = gradient;
  context.fillRect(0, 0, 120, 80);
  return URL.createObjectURL(await canvas.convertToBlob({ type: 'image/png' }));
}

async function run(model: string): Promise<LifecycleResult> {
  defineWebDetrElement();
  const src = await pictureUrl();
  let imageFetches = 0;
  const nativeFetch = globalThis.fetch.bind(globalThis);
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input instanceof Request ? input.url : input) === src) imageFetches++;
    return nativeFetch(input, init);
  };
  const element = document.createElement('web-detr') as WebDetrElement;
  const errors: string[] = [];
  element.addEventListener('webdetr-error', (event) => errors.push(JSON.stringify((event as CustomEvent).detail)));
  const nextDetections = () =>
    new Promise<DetectionsEventDetail>((resolve) =>
      element.addEventListener('detections', (event) => resolve((event as CustomEvent<DetectionsEventDetail>).detail), { once: true }),
    );
  const scores = (detail: DetectionsEventDetail) => detail.detections.map((d) => d.score);
  element.setAttribute('model', model);
  element.setAttribute('backend', 'wasm');
  element.setAttribute('threshold', '0');
  element.setAttribute('src', src);
  let detections = nextDetections();
  document.body.append(element);
  const firstDetail = await detections;
  const first = scores(firstDetail);
  const status = element.shadowRoot?.querySelector('p')?.textContent ?? '';
  const internals = element as unknown as Internals;
  const bitmap = internals.image;
  element.remove();
  const bitmapAfterRemoval = bitmap === undefined ? 'none' : { width: bitmap.width, height: bitmap.height };
  const heldAfterRemoval = {
    image: internals.image !== undefined,
    imageSrc: internals.imageSrc,
    detector: internals.detector !== undefined,
  };
  detections = nextDetections();
  document.body.append(element);
  const again = scores(await detections);
  element.remove();
  globalThis.fetch = nativeFetch;
  return { first, bitmapAfterRemoval, heldAfterRemoval, again, imageFetches, status, backendReason: firstDetail.backend.reason, errors };
}

declare global {
  interface Window {
    embedLifecycle?: { run: typeof run; clippedOutline: typeof clippedOutline };
  }
}
window.embedLifecycle = { run, clippedOutline };
