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
import type {
  BackendPreference,
  Detection,
  Detector,
  PatchDescriptors,
  PatchDetections,
  PreparedImage,
  QueryPatch,
  StageTimings,
  VideoWatch,
} from '../api/types.js';
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
  static readonly observedAttributes = ['src', 'model', 'threshold', 'backend', 'mode', 'max-detections', 'camera'];

  /**
   * A MediaStream to watch instead of a picture (the `camera` attribute opens the camera itself). Set
   * before or after connecting; null goes back to `src`. The element never stops a stream it was given.
   */
  get stream(): MediaStream | null {
    return this.givenStream;
  }
  set stream(value: MediaStream | null) {
    this.givenStream = value;
    this.schedule();
  }

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
  private givenStream: MediaStream | null = null;
  /** Live video (camera attribute or stream property): the video, its watch, the stream if the element opened it. */
  private live: { video: HTMLVideoElement; watch: VideoWatch | null; opened: MediaStream | null; key: string } | undefined;
  /** Live one-shot: each patch's descriptors, described on the frame shown when it was drawn. */
  private readonly liveDescriptors = new Map<string, PatchDescriptors>();

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
      imageSize: () => {
        if (!this.editing) return null;
        if (this.live) return { width: this.live.video.videoWidth, height: this.live.video.videoHeight };
        return this.image ? { width: this.image.width, height: this.image.height } : null;
      },
      active: () => this.editing,
      maxPatches: () => this.maxPatches,
    });
    this.editor.onChange(() => this.redraw());
    this.editor.onCommit((patches) => void (this.live ? this.livePatches([...patches]) : this.runOneShot([...patches])));
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
    this.stopLive();
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
    if (model && (this.hasAttribute('camera') || this.givenStream !== null)) return this.updateLive(model, generation);
    this.stopLive();
    if (!model || !src)
      return this.say(!model ? 'Set the model attribute to a model manifest URL.' : 'Set the src attribute to an image URL.');
    try {
      const backend = (this.getAttribute('backend') ?? 'auto') as BackendPreference;
      const key = `${new URL(model, document.baseURI).href}|${backend}`;
      // The picture and the model load side by side: the picture shows as soon as it is here, with the
      // model's progress under it (a missing picture fails at once, not after the model's download).
      const imageUrl = new URL(src, document.baseURI).href;
      const picture =
        imageUrl !== this.imageSrc || this.image === undefined ? this.loadPicture(imageUrl, generation) : Promise.resolve(true);
      const modelLoad =
        key !== this.detectorKey || this.detector === undefined ? this.loadModel(model, backend, key, generation) : Promise.resolve(true);
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
        this.canvas.setAttribute(
          'aria-label',
          `Image ${src}. Drag a rectangle around an object to find similar ones. Keyboard: ${KEYBOARD_HELP}.`,
        );
        return this.say(
          'One-shot: drag a box around an object to find similar ones, or focus the picture and press N. ' +
            `(${backendStatus(detector.backend)})`,
        );
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
      throw new ImageFetchError(
        imageUrl,
        `could not fetch the image ${imageUrl}: ${String(cause)} (offline, wrong URL, or a cross-origin URL without CORS headers?)`,
        { cause },
      );
    }
    if (!response.ok)
      throw new ImageFetchError(imageUrl, `could not fetch the image ${imageUrl}: HTTP ${response.status}`, { status: response.status });
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
    // onnxruntime-wasm: where onnxruntime's .wasm is served when not beside webdetr (read at load time).
    const runtime = this.getAttribute('onnxruntime-wasm');
    const detector = await createDetector({
      model: new URL(model, document.baseURI),
      backend,
      ...(runtime ? { onnxruntimeWasm: new URL(runtime, document.baseURI) } : {}),
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

  /**
   * Live video: the camera (or the given stream) drawn on the canvas every frame, the model run by
   * detector.watch on its frames. Detect mode detects in every frame; one-shot mode searches every frame
   * for the patches dragged on it (each described on the frame shown then); Shift+Delete clears them.
   */
  private async updateLive(model: string, generation: number): Promise<void> {
    try {
      const backend = (this.getAttribute('backend') ?? 'auto') as BackendPreference;
      const key = `${new URL(model, document.baseURI).href}|${backend}`;
      const streamKey = this.givenStream?.id ?? 'camera';
      if (this.live?.key !== streamKey) {
        this.stopLive();
        const opened = this.givenStream === null ? await this.openCamera() : null;
        const video = document.createElement('video');
        video.muted = true;
        video.playsInline = true;
        video.srcObject = this.givenStream ?? opened;
        await video.play();
        if (generation !== this.generation) {
          for (const track of opened?.getTracks() ?? []) track.stop();
          return;
        }
        this.live = { video, watch: null, opened, key: streamKey };
        this.editor.clear();
        this.liveDescriptors.clear();
        const paint = () => {
          if (this.live?.video !== video) return;
          if (video.videoWidth > 0 && (this.canvas.width !== video.videoWidth || this.canvas.height !== video.videoHeight)) {
            this.canvas.width = video.videoWidth;
            this.canvas.height = video.videoHeight;
          }
          this.redraw();
          requestAnimationFrame(paint);
        };
        requestAnimationFrame(paint);
      }
      if (key !== this.detectorKey || this.detector === undefined) {
        if (!(await this.loadModel(model, backend, key, generation))) return;
      }
      const detector = this.detector;
      if (detector === undefined) return;
      this.editing = this.oneShotMode;
      this.maxPatches = Math.max(1, detector.model.maxPatches || 1);
      this.canvas.setAttribute('role', this.oneShotMode ? 'application' : 'img');
      if (this.oneShotMode) this.canvas.tabIndex = 0;
      else this.canvas.removeAttribute('tabindex');
      this.canvas.setAttribute(
        'aria-label',
        this.oneShotMode
          ? `Live video. Drag a rectangle around an object to find it in every later frame. Keyboard: ${KEYBOARD_HELP}.`
          : 'Live video with detected objects',
      );
      await this.restartLiveWatch();
    } catch (error) {
      if (generation === this.generation) {
        this.failedGeneration = generation;
        this.fail(error);
      }
    }
  }

  private async openCamera(): Promise<MediaStream> {
    if (navigator.mediaDevices?.getUserMedia === undefined)
      throw new InputError('this browser has no camera access (it needs https or localhost)');
    try {
      return await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (cause) {
      throw new InputError(`the camera could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }

  /** (Re)starts the watch for the mode: detect, or one-shot with the patches described so far (none: idle). */
  private async restartLiveWatch(): Promise<void> {
    const live = this.live;
    const detector = this.detector;
    if (!live || !detector) return;
    live.watch?.stop();
    live.watch = null;
    const sets = this.editor.patches.flatMap((p) => this.liveDescriptors.get(rectKey(p)) ?? []);
    if (this.oneShotMode && sets.length === 0) {
      this.lastAll = [];
      this.lastPatches = [];
      return this.say(
        `Live one-shot: drag a box around an object; every later frame is searched for it. (${backendStatus(detector.backend)})`,
      );
    }
    live.watch = await detector.watch(live.video, {
      threshold: 0,
      maxDetections: 300,
      ...(this.oneShotMode ? { patches: sets } : {}),
      onResult: (result) => {
        if (this.live !== live) return;
        this.lastAll = this.oneShotMode ? [] : result.detections;
        this.lastPatches = this.oneShotMode ? (result.patches ?? []) : undefined;
        this.lastMeta = { backend: detector.backend, timings: result.timings, imageSize: result.imageSize };
        this.emit(` · ${result.fps.toFixed(1)} frames/s`);
      },
      onError: (error) => {
        this.stopLive();
        this.fail(error);
      },
    });
  }

  /** Live one-shot: describe new or moved patches on the frame shown now, forget removed ones, search with all. */
  private async livePatches(patches: QueryPatch[]): Promise<void> {
    const live = this.live;
    const detector = this.detector;
    if (!live || !detector) return;
    const keep = new Set(patches.map(rectKey));
    for (const key of [...this.liveDescriptors.keys()]) if (!keep.has(key)) this.liveDescriptors.delete(key);
    try {
      for (const patch of patches.filter((p) => !this.liveDescriptors.has(rectKey(p)))) {
        this.liveDescriptors.set(rectKey(patch), await detector.describePatches(live.video, [patch]));
      }
      if (this.live === live) await this.restartLiveWatch();
    } catch (error) {
      this.fail(error);
    }
  }

  private stopLive(): void {
    const live = this.live;
    if (!live) return;
    this.live = undefined;
    live.watch?.stop();
    live.video.pause();
    live.video.srcObject = null;
    for (const track of live.opened?.getTracks() ?? []) track.stop();
    this.liveDescriptors.clear();
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
    const picture = this.live?.video ?? this.image;
    if (!context || !picture || (this.live && this.live.video.videoWidth === 0)) return;
    // The editor's patches as they are now, each with the matches of the same slot in the last
    // result: a patch keeps one colour from the drag to its results (the result's own patch
    // objects came back from the worker, so they are never the editor's objects). A rectangle
    // being drawn comes last, without matches.
    const { selected, draft } = this.editor;
    const patches = this.editor.patches.map((patch, i) => ({
      patch,
      selected: i === selected,
      detections: this.filter(this.lastPatches?.[i]?.detections ?? []),
    }));
    if (draft !== null) patches.push({ patch: draft, selected: false, detections: [] });
    drawScene(context, picture, this.filter(this.lastAll), patches);
  }

  private emit(extra = ''): void {
    if (!this.lastMeta) return;
    const shown = this.filter(this.lastAll);
    const patches = this.lastPatches?.map((p) => ({ ...p, detections: this.filter(p.detections) }));
    const count = patches ? patches.reduce((n, p) => n + p.detections.length, 0) : shown.length;
    const zoomed = patches?.some((p) => p.views > 1) === true ? ' · small patch searched zoomed' : '';
    this.say(`${count} found · ${this.lastMeta.timings.total.toFixed(0)} ms${extra}${zoomed} · ${backendStatus(this.lastMeta.backend)}`);
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

const rectKey = (p: QueryPatch) => `${p.x},${p.y},${p.width},${p.height}`;

/** Registers <web-detr> once (idempotent: two bundles on one page do not throw). */
export function defineWebDetrElement(name = 'web-detr'): void {
  if (!customElements.get(name)) customElements.define(name, WebDetrElement);
}
