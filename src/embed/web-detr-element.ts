/**
 * <web-detr src="photo.jpg" model="models/detector/manifest.json" threshold="0.5">: draws the image
 * with its detections. Attributes: src, model, threshold (0..1, default: the model's suggested score), backend
 * (auto|webgpu|wasm), mode (detect|one-shot), max-detections. A changed model/backend reloads, a
 * changed src re-runs, a changed threshold only re-filters the last result. Events (bubbling):
 * `detections` {detections, patches?, backend, timings, imageSize}, `progress` (LoadProgressEvent),
 * `webdetr-error` {code, message}. Elements with the same model share one worker and one model.
 * One-shot mode: drag a rectangle, drag a patch to move it or its corner to resize it; or focus the
 * canvas and use the demo's keys (KEYBOARD_HELP in src/overlay/patch-editor-core.ts).
 */
import { createDetector } from '../api/create-detector.js';
import type { BackendPreference, Detection, Detector, PatchDetections, PreparedImage, QueryPatch, StageTimings } from '../api/types.js';
import { attachPatchEditor, type PatchEditor } from '../overlay/patch-editor.js';
import { KEYBOARD_HELP } from '../overlay/patch-editor-core.js';
import { ImageFetchError, InputError } from '../errors.js';
import { drawScene } from './draw-detections.js';
import { backendStatus, loadStatus } from './load-status.js';

const STYLE = `
:host { display: inline-block; position: relative; max-width: 100%; }
canvas { display: block; max-width: 100%; height: auto; touch-action: none; }
canvas:focus-visible { outline: 3px solid #4363d8; outline-offset: 2px; }
p { margin: 0.25em 0 0; font: 12px system-ui, sans-serif; color: #444; min-height: 1.4em; }
`;

let sheet: CSSStyleSheet | undefined;
function sharedSheet(): CSSStyleSheet {
  if (sheet === undefined) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

export interface DetectionsEventDetail {
  detections: Detection[];
  patches?: PatchDetections[];
  backend: Detector['backend'];
  timings: StageTimings;
  imageSize: { width: number; height: number };
}

export class WebDetrElement extends HTMLElement {
  static readonly observedAttributes = ['src', 'model', 'threshold', 'backend', 'mode', 'max-detections'];

  private readonly canvas: HTMLCanvasElement;
  private readonly status: HTMLParagraphElement;
  private readonly editor: PatchEditor;
  /** One-shot editing is on: a picture is shown in one-shot mode. */
  private editing = false;
  private maxPatches = 1;
  private detector: Detector | undefined;
  private detectorKey = '';
  private image: ImageBitmap | undefined;
  private imageSrc = '';
  private prepared: PreparedImage | undefined;
  private lastAll: Detection[] = [];
  private lastPatches: PatchDetections[] | undefined;
  private lastMeta: Omit<DetectionsEventDetail, 'detections' | 'patches'> | undefined;
  private scheduled = false;
  private generation = 0;
  /** The update that failed last: its model's later progress does not overwrite the error. */
  private failedGeneration = -1;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    // A constructed stylesheet, not a <style> element: pages with a strict CSP (no 'unsafe-inline'
    // styles) allow it.
    root.adoptedStyleSheets = [sharedSheet()];
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('part', 'canvas');
    this.canvas.setAttribute('role', 'img');
    this.status = document.createElement('p');
    this.status.setAttribute('part', 'status');
    this.status.setAttribute('aria-live', 'polite');
    root.append(this.canvas, this.status);
    this.editor = attachPatchEditor({
      element: this.canvas,
      toPicture: (clientX, clientY) => {
        const rect = this.canvas.getBoundingClientRect();
        const scale = this.canvas.width / Math.max(1, rect.width);
        return { x: (clientX - rect.left) * scale, y: (clientY - rect.top) * scale };
      },
      scale: () => this.canvas.getBoundingClientRect().width / Math.max(1, this.canvas.width),
      imageSize: () => (this.editing && this.image ? { width: this.image.width, height: this.image.height } : null),
      active: () => this.editing,
      maxPatches: () => this.maxPatches,
    });
    this.editor.onChange(() => this.redraw());
    this.editor.onCommit((patches) => void this.runOneShot([...patches]));
    this.editor.onNotice((text) => this.say(text));
  }

  /** Last detections after the threshold filter (detect mode). */
  get detections(): Detection[] {
    return this.filter(this.lastAll);
  }

  connectedCallback(): void {
    this.schedule();
  }

  /**
   * Releases everything the element holds: the detector (its worker when no other element shares
   * it) and the decoded picture. A load or run under way is abandoned (its generation is stale);
   * reconnecting loads both again.
   */
  disconnectedCallback(): void {
    this.generation++;
    const detector = this.detector;
    this.detector = undefined;
    this.detectorKey = '';
    this.prepared = undefined;
    this.image?.close();
    this.image = undefined;
    this.imageSrc = '';
    this.lastAll = [];
    this.lastPatches = undefined;
    this.lastMeta = undefined;
    void detector?.dispose();
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after) return;
    if (name === 'threshold' && this.lastMeta !== undefined) {
      this.redraw();
      this.emit();
      return;
    }
    this.schedule();
  }

  private get threshold(): number {
    const fallback = this.detector?.model.scoreThreshold ?? 0.5;
    const attribute = this.getAttribute('threshold');
    const value = attribute === null ? fallback : Number(attribute);
    return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : fallback;
  }

  private get oneShotMode(): boolean {
    return this.getAttribute('mode') === 'one-shot';
  }

  private filter(detections: readonly Detection[]): Detection[] {
    const limit = Number(this.getAttribute('max-detections') ?? '100');
    return detections.filter((d) => d.score >= this.threshold).slice(0, Number.isFinite(limit) ? limit : 100);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.isConnected) void this.update();
    });
  }

  private async update(): Promise<void> {
    const generation = ++this.generation;
    const model = this.getAttribute('model');
    const src = this.getAttribute('src');
    if (!model || !src) return this.say(!model ? 'Set the model attribute to a model manifest URL.' : 'Set the src attribute to an image URL.');
    try {
      const backend = (this.getAttribute('backend') ?? 'auto') as BackendPreference;
      const key = `${new URL(model, document.baseURI).href}|${backend}`;
      // The picture and the model load side by side: the picture shows as soon as it is here, with the
      // model's progress under it (a missing picture fails at once, not after the model's download).
      const imageUrl = new URL(src, document.baseURI).href;
      const picture = imageUrl !== this.imageSrc || this.image === undefined ? this.loadPicture(imageUrl, generation) : Promise.resolve(true);
      const modelLoad = key !== this.detectorKey || this.detector === undefined ? this.loadModel(model, backend, key, generation) : Promise.resolve(true);
      const [pictureCurrent, modelCurrent] = await Promise.all([picture, modelLoad]);
      if (!pictureCurrent || !modelCurrent || this.detector === undefined || this.image === undefined) return;
      const detector = this.detector;
      const image = this.image;
      this.canvas.setAttribute('aria-label', `Image ${src}`);
      // In one-shot mode the canvas takes keys (as the demo's picture does): an application region.
      this.canvas.setAttribute('role', this.oneShotMode ? 'application' : 'img');
      if (this.oneShotMode) {
        this.canvas.tabIndex = 0;
        this.editing = true;
        this.maxPatches = Math.max(1, detector.model.maxPatches || 1);
        this.prepared ??= await detector.prepareImage(image);
        this.lastAll = [];
        this.lastPatches = [];
        this.lastMeta = { backend: detector.backend, timings: emptyTimings(), imageSize: { width: image.width, height: image.height } };
        this.redraw();
        this.canvas.setAttribute('aria-label', `Image ${src}. Drag a rectangle around an object to find similar ones. Keyboard: ${KEYBOARD_HELP}.`);
        return this.say(`One-shot: drag a box around an object to find similar ones, or focus the picture and press N. (${backendStatus(detector.backend)})`);
      }
      this.editing = false;
      this.editor.clear();
      this.canvas.removeAttribute('tabindex');
      this.say('Detecting…');
      const result = await detector.detect(image, { threshold: 0, maxDetections: 300 });
      if (generation !== this.generation) return;
      this.lastAll = result.detections;
      this.lastPatches = undefined;
      this.lastMeta = { backend: result.backend, timings: result.timings, imageSize: result.imageSize };
      this.redraw();
      this.emit();
    } catch (error) {
      // A disconnected (or since updated) element reports nothing for work it abandoned.
      if (generation === this.generation) {
        this.failedGeneration = generation;
        this.fail(error);
      }
    }
  }

  /** Fetches and shows the picture; false when a newer update took over meanwhile. */
  private async loadPicture(imageUrl: string, generation: number): Promise<boolean> {
    let response: Response;
    try {
      response = await fetch(imageUrl);
    } catch (cause) {
      throw new ImageFetchError(imageUrl, `could not fetch the image ${imageUrl}: ${String(cause)} (offline, wrong URL, or a cross-origin URL without CORS headers?)`, { cause });
    }
    if (!response.ok) throw new ImageFetchError(imageUrl, `could not fetch the image ${imageUrl}: HTTP ${response.status}`, { status: response.status });
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(await response.blob(), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (cause) {
      throw new InputError(`the image ${imageUrl} could not be decoded: ${String(cause)}`, { cause });
    }
    if (generation !== this.generation) {
      bitmap.close();
      return false;
    }
    this.image?.close();
    this.image = bitmap;
    // Patches belong to the picture they were drawn on.
    this.editor.clear();
    this.imageSrc = imageUrl;
    this.prepared = undefined;
    this.lastAll = [];
    this.lastPatches = undefined;
    this.canvas.width = bitmap.width;
    this.canvas.height = bitmap.height;
    this.redraw();
    return true;
  }

  /** Creates the detector, saying how the download and preparation go; false when a newer update took over. */
  private async loadModel(model: string, backend: BackendPreference, key: string, generation: number): Promise<boolean> {
    const old = this.detector;
    this.detector = undefined;
    this.prepared = undefined;
    await old?.dispose();
    this.say('Loading model…');
    const line = loadStatus();
    const detector = await createDetector({
      model: new URL(model, document.baseURI),
      backend,
      onProgress: (event) => {
        const text = line(event);
        // A failure (e.g. a missing picture) stays on the line while the model goes on loading.
        if (text !== undefined && generation === this.generation && this.failedGeneration !== generation) this.say(text);
        this.dispatchEvent(new CustomEvent('progress', { detail: event, bubbles: true, composed: true }));
      },
    });
    if (generation !== this.generation) {
      await detector.dispose();
      return false;
    }
    this.detector = detector;
    this.detectorKey = key;
    return true;
  }

  private async runOneShot(patches: QueryPatch[]): Promise<void> {
    const detector = this.detector;
    const image = this.image;
    if (!detector || !image || patches.length === 0) {
      this.lastPatches = [];
      this.redraw();
      return;
    }
    try {
      this.prepared ??= await detector.prepareImage(image);
      this.say('Searching…');
      const result = await detector.detectWithPatches(this.prepared, patches, { threshold: 0 });
      this.lastPatches = result.patches;
      this.lastMeta = { backend: result.backend, timings: result.timings, imageSize: result.imageSize };
      this.redraw();
      this.emit();
    } catch (error) {
      this.fail(error);
    }
  }

  private redraw(): void {
    const context = this.canvas.getContext('2d');
    if (!context || !this.image) return;
    // The editor's patches as they are now, each with the matches of the same slot in the last
    // result: a patch keeps one colour from the drag to its results (the result's own patch
    // objects came back from the worker, so they are never the editor's objects). A rectangle
    // being drawn comes last, without matches.
    const { selected, draft } = this.editor;
    const patches = this.editor.patches.map((patch, i) => ({ patch, selected: i === selected, detections: this.filter(this.lastPatches?.[i]?.detections ?? []) }));
    if (draft !== null) patches.push({ patch: draft, selected: false, detections: [] });
    drawScene(context, this.image, this.filter(this.lastAll), patches);
  }

  private emit(): void {
    if (!this.lastMeta) return;
    const shown = this.filter(this.lastAll);
    const patches = this.lastPatches?.map((p) => ({ ...p, detections: this.filter(p.detections) }));
    const count = patches ? patches.reduce((n, p) => n + p.detections.length, 0) : shown.length;
    const zoomed = patches?.some((p) => p.views > 1) === true ? ' · small patch searched zoomed' : '';
    this.say(`${count} found · ${this.lastMeta.timings.total.toFixed(0)} ms${zoomed} · ${backendStatus(this.lastMeta.backend)}`);
    const detail: DetectionsEventDetail = { detections: shown, ...(patches ? { patches } : {}), ...this.lastMeta };
    this.dispatchEvent(new CustomEvent<DetectionsEventDetail>('detections', { detail, bubbles: true, composed: true }));
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private fail(error: unknown): void {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : 'error';
    const message = error instanceof Error ? error.message : String(error);
    this.say(`Error: ${message}`);
    this.dispatchEvent(new CustomEvent('webdetr-error', { detail: { code, message }, bubbles: true, composed: true }));
  }
}


function emptyTimings(): StageTimings {
  return { preprocess: 0, backbone: 0, encoder: 0, decoder: 0, model: 0, postprocess: 0, total: 0, stages: [] };
}

/** Registers <web-detr> once (idempotent: two bundles on one page do not throw). */
export function defineWebDetrElement(name = 'web-detr'): void {
  if (!customElements.get(name)) customElements.define(name, WebDetrElement);
}
