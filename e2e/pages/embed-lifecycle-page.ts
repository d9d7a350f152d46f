/**
 * Browser side of e2e/embed-lifecycle.spec.ts: a <web-detr> element on the tiny test package (WASM)
 * is removed and put back. Reports what the element held before and after, how often its picture was
 * fetched, and its detections each time.
 */
import { defineWebDetrElement, type DetectionsEventDetail, type WebDetrElement } from '../../src/embed/index.js';

export interface LifecycleResult {
  first: number[];
  /** The element's decoded bitmap after removal: a closed ImageBitmap reports 0x0. */
  bitmapAfterRemoval: { width: number; height: number } | 'none';
  heldAfterRemoval: { image: boolean; imageSrc: string; detector: boolean };
  again: number[];
  imageFetches: number;
  errors: string[];
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
    new Promise<number[]>((resolve) => element.addEventListener('detections', (event) => resolve((event as CustomEvent<DetectionsEventDetail>).detail.detections.map((d) => d.score)), { once: true }));
  element.setAttribute('model', model);
  element.setAttribute('backend', 'wasm');
  element.setAttribute('threshold', '0');
  element.setAttribute('src', src);
  let detections = nextDetections();
  document.body.append(element);
  const first = await detections;
  const internals = element as unknown as Internals;
  const bitmap = internals.image;
  element.remove();
  const bitmapAfterRemoval = bitmap === undefined ? 'none' : { width: bitmap.width, height: bitmap.height };
  const heldAfterRemoval = { image: internals.image !== undefined, imageSrc: internals.imageSrc, detector: internals.detector !== undefined };
  detections = nextDetections();
  document.body.append(element);
  const again = await detections;
  element.remove();
  globalThis.fetch = nativeFetch;
  return { first, bitmapAfterRemoval, heldAfterRemoval, again, imageFetches, errors };
}

declare global {
  interface Window {
    embedLifecycle?: { run: typeof run };
  }
}
window.embedLifecycle = { run };
