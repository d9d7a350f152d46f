/**
 * The open demo: wires the picture sources, the model loader, the stage with its box overlay, the
 * one-shot patch editor, the controls and the results list. The model runs once per picture (or
 * per patch change) with threshold 0; everything the user filters afterwards happens here.
 * window.__webdetrDemo exposes the state for the e2e test (e2e/demo.spec.ts).
 */
import { enableCrossOriginIsolation } from '../api/cross-origin-isolation.js';
import type { Detector, DetectionResult, OneShotResult, PatchDescriptors, PreparedImage, QueryPatch, VideoWatch } from '../api/types.js';
import { WebDetrError } from '../errors.js';
import { drawBoxes, outlineOf, overlayStyle, type OverlayView } from '../overlay/draw-boxes.js';
import { attachPatchEditor } from '../overlay/patch-editor.js';
import { KEYBOARD_HELP } from '../overlay/patch-editor-core.js';
import { toImagePoint } from '../geometry/letterbox.js';
import { createControls } from './controls.js';
import { classCounts } from './filter.js';
import { createImageSource, type OpenedImage } from './image-source.js';
import { createLoadProgress } from './load-progress.js';
import { createModelLoader } from './models.js';
import { oneShotNote } from './one-shot-note.js';
import { DEFAULT_ONE_SHOT_MODEL, readParams, type DemoMode } from './params.js';
import { createResultsList } from './results-list.js';
import { boxAt, detectScene, oneShotScene, type Scene } from './scene.js';
import { createStage } from './stage.js';
import { createStatus } from './status.js';
import { startWebcam, type WebcamLoop } from './webcam.js';
import { byId, exposeDemoState, type DemoState } from './dom.js';

const params = readParams(location.search);
const stage = createStage(byId('stage', HTMLElement), byId('image-layer', HTMLCanvasElement), byId('overlay', HTMLCanvasElement));
const status = createStatus({
  backend: byId('backend', HTMLElement),
  timings: byId('timings', HTMLElement),
  timingsNote: byId('timings-note', HTMLElement),
  message: byId('message', HTMLElement),
});
const progress = createLoadProgress({ bar: byId('load-bar', HTMLProgressElement), text: byId('load-text', HTMLElement) });
const loader = createModelLoader(progress, params.backend, params.cache);
const controls = createControls({
  modeRadios: [...document.querySelectorAll<HTMLInputElement>('input[name="mode"]')],
  threshold: byId('threshold', HTMLInputElement),
  thresholdValue: byId('threshold-value', HTMLOutputElement),
  showBoxes: byId('show-boxes', HTMLInputElement),
  classFilter: byId('class-filter', HTMLFieldSetElement),
  classList: byId('class-list', HTMLElement),
});
const list = createResultsList(byId('results', HTMLOListElement), byId('results-summary', HTMLElement));
const source = createImageSource({
  fileInput: byId('file-input', HTMLInputElement),
  dropTarget: stage.element,
  samples: byId('samples', HTMLElement),
});
const busy = byId('busy', HTMLElement);
const webcamButton = byId('webcam', HTMLButtonElement);

/** The demo's state: one picture, one mode, the last raw result of each kind for that picture. */
let mode: DemoMode = params.mode ?? 'detect';
let picture: OpenedImage | null = null;
let pictureId = 0;
let prepared = new Map<Detector, Promise<PreparedImage>>();
let mainDetector: Detector | null = null;
let oneShotDetector: Detector | null = null;
/** Find similar runs on the main model (it has the query-patch branch): the load line then says "the model". */
let oneShotIsMain = false;
let lastDetect: DetectionResult | null = null;
let lastOneShot: OneShotResult | null = null;
let highlight: number | null = null;
let scene: Scene = { boxes: [], entries: [] };
let webcam: WebcamLoop | null = null;
const demo: DemoState = exposeDemoState();
window.__webdetrDemoStats = async () => ({
  main: (await mainDetector?.stats()) ?? null,
  oneShot: (await oneShotDetector?.stats()) ?? null,
});

const editor = attachPatchEditor({
  element: stage.element,
  toPicture: (clientX, clientY) => {
    const bounds = stage.element.getBoundingClientRect();
    return toImagePoint(clientX - bounds.left, clientY - bounds.top, stage.fit());
  },
  scale: () => stage.fit().scale,
  imageSize: () => stage.imageSize,
  active: () => mode === 'oneshot',
  maxPatches: () => oneShotDetector?.model.maxPatches ?? 10,
});

/** One-shot mode uses ?oneshot= when given, else the main model if it can, else the bundled one-shot model. */
async function detectorFor(which: DemoMode): Promise<Detector> {
  const main = loader.load(params.model, 'the model');
  if (which === 'detect') return main;
  let detector: Detector;
  if (params.oneShotModel !== undefined) detector = await loader.load(params.oneShotModel, 'the one-shot model');
  else {
    const mainOrNull = await main.catch(() => null);
    oneShotIsMain = mainOrNull?.model.oneShot === true;
    detector = mainOrNull?.model.oneShot ? mainOrNull : await loader.load(DEFAULT_ONE_SHOT_MODEL, 'the one-shot model');
  }
  oneShotDetector = detector;
  return detector;
}

function preparedFor(detector: Detector, image: OpenedImage): Promise<PreparedImage> {
  let entry = prepared.get(detector);
  if (entry === undefined) {
    entry = detector.prepareImage(image.blob);
    entry.catch(() => prepared.delete(detector));
    prepared.set(detector, entry);
  }
  return entry;
}

/**
 * Runs a call on the picture's prepared image (sent to the worker once; one-shot re-queries reuse
 * its encoder memory). Work-around: createDetector at dcdc135 passes a prepared image's numeric id
 * through comlink's transfer(), whose WeakMap rejects numbers ("Invalid value used as weak map
 * key"); then this falls back to sending the file on every call and says so in demo state.
 */
async function withImage<T>(detector: Detector, image: OpenedImage, run: (input: PreparedImage | Blob) => Promise<T>): Promise<T> {
  if (demo.preparedImages) {
    try {
      return await run(await preparedFor(detector, image));
    } catch (error) {
      if (!(error instanceof TypeError && /weak ?map key/i.test(error.message))) throw error;
      demo.preparedImages = false;
      demo.errors.push(`prepared images unusable (${error.message}); sending the picture with every call`);
      console.warn(
        'webdetr demo: detector calls with a PreparedImage fail (comlink transfer of a number); falling back to the image file per call',
      );
    }
  }
  return run(image.blob);
}

function setBusy(text: string | null): void {
  busy.hidden = text === null;
  if (text !== null) busy.textContent = text;
  demo.busy = text !== null;
}

function render(): void {
  const filter = { threshold: controls.threshold, hiddenClasses: controls.hiddenClasses };
  scene = mode === 'detect' ? detectScene(lastDetect, filter) : oneShotScene(editor, lastOneShot, controls.threshold);
  const context = stage.beginOverlay();
  if (controls.showBoxes) drawBoxes(context, scene.boxes, overlayView(), highlight);
  list.render(scene.entries, emptyListText());
  byId('stage-cta', HTMLElement).hidden = !(mode === 'oneshot' && picture !== null && editor.patches.length === 0 && editor.draft === null);
  list.setHighlight(highlight);
  controls.setClasses(mode === 'detect' && lastDetect !== null ? classCounts(lastDetect.detections, controls.threshold) : null);
  publish();
}

/** The overlay is drawn in CSS pixels (the stage scales its context by devicePixelRatio). */
function overlayView(): OverlayView {
  return { fit: stage.fit(), picture: stage.imageSize, surface: stage.size(), style: overlayStyle() };
}

function emptyListText(): string {
  if (picture === null) return 'no picture yet';
  if (mode === 'oneshot') return editor.patches.length === 0 ? 'drag a rectangle on the picture' : '';
  if (lastDetect === null) return 'not run yet';
  // A small model may score everything low: say how low, so the slider is the obvious next step.
  const best = Math.max(0, ...lastDetect.detections.map((d) => d.score));
  return `none ≥ ${controls.threshold.toFixed(2)} (best ${best.toFixed(2)}): lower the minimum score`;
}

function publish(): void {
  const view = overlayView();
  const { fit } = view;
  demo.mode = mode;
  demo.image = picture === null ? null : { name: picture.name, width: picture.bitmap.width, height: picture.bitmap.height };
  demo.lastDetect = lastDetect;
  demo.lastOneShot = lastOneShot;
  demo.patches = editor.patches.map((p) => ({ ...p }));
  demo.threshold = controls.threshold;
  demo.fit = fit;
  demo.showBoxes = controls.showBoxes;
  demo.drawn = scene.boxes.map((b) => ({
    label: b.label,
    rgb: [b.color.rgb[0], b.color.rgb[1], b.color.rgb[2]],
    dashed: b.dashed ?? false,
    box: b.box,
    stageRect: outlineOf(b, view),
  }));
}

function showError(error: unknown, what: string): void {
  const message = error instanceof Error ? error.message : String(error);
  status.message(`${what} failed: ${message}`, 'error');
  demo.errors.push(`${what}: ${error instanceof WebDetrError ? `[${error.code}] ` : ''}${message}`);
}

/** The picture whose detection is in flight: opening a picture and the model becoming ready both ask for one run. */
let detecting: number | null = null;
async function runDetect(): Promise<void> {
  const image = picture;
  const id = pictureId;
  if (image === null || mode !== 'detect' || detecting === id) return;
  detecting = id;
  try {
    // A model that failed to load is explained by the progress line; nothing to add here.
    const detector = await detectorFor('detect').catch(() => null);
    if (detector === null || !detector.model.detection) return;
    await detectOnce(detector, image, id);
  } finally {
    if (detecting === id) detecting = null;
  }
}

async function detectOnce(detector: Detector, image: OpenedImage, id: number): Promise<void> {
  try {
    setBusy('Detecting…');
    const result = await withImage(detector, image, (input) => detector.detect(input, { threshold: 0 }));
    if (id !== pictureId || mode !== 'detect') return;
    demo.runs++;
    lastDetect = result;
    highlight = null;
    status.showTimings(result.timings, `Found ${result.detections.length} candidates; the slider and class filter choose among them.`);
    status.message('');
    render();
  } catch (error) {
    if (id === pictureId) showError(error, 'Detection');
  } finally {
    if (id === pictureId) setBusy(null);
  }
}

/** One query in flight at a time; patches changed meanwhile are queried right after (the newest only). */
let oneShotRunning = false;
let oneShotPending: readonly QueryPatch[] | null = null;
async function runOneShot(patches: readonly QueryPatch[]): Promise<void> {
  if (oneShotRunning) {
    oneShotPending = patches;
    return;
  }
  const image = picture;
  const id = pictureId;
  if (image === null || mode !== 'oneshot') return;
  if (patches.length === 0) {
    lastOneShot = null;
    status.showTimings(null, '');
    return render();
  }
  oneShotRunning = true;
  // Feedback right away, also while the one-shot model is still downloading.
  setBusy(oneShotDetector === null ? 'Loading the one-shot model, then finding similar objects…' : 'Finding similar objects…');
  const detector = await detectorFor('oneshot').catch(() => null);
  if (detector === null) {
    oneShotRunning = false;
    setBusy(null);
    return;
  }
  try {
    setBusy('Finding similar objects…');
    const result = await withImage(detector, image, (input) => detector.detectWithPatches(input, patches, { threshold: 0 }));
    if (id !== pictureId || mode !== 'oneshot') return;
    demo.runs++;
    lastOneShot = result;
    highlight = null;
    status.showTimings(result.timings, oneShotNote(result, demo.preparedImages));
    status.message('');
    render();
  } catch (error) {
    if (id === pictureId) showError(error, 'One-shot query');
  } finally {
    oneShotRunning = false;
    setBusy(null);
    const next = oneShotPending;
    oneShotPending = null;
    if (next !== null) void runOneShot(next);
  }
}

function stopWebcam(): void {
  stopWatch();
  demo.live = null;
  webcam?.stop();
  webcam = null;
  webcamButton.setAttribute('aria-pressed', 'false');
  webcamButton.textContent = 'Webcam';
}

function openPicture(image: OpenedImage): void {
  stopWebcam();
  picture?.bitmap.close();
  picture = image;
  pictureId++;
  prepared = new Map();
  lastDetect = null;
  lastOneShot = null;
  highlight = null;
  editor.clear();
  stage.show(image.bitmap, { width: image.bitmap.width, height: image.bitmap.height });
  stage.element.setAttribute(
    'aria-label',
    mode === 'oneshot' ? oneShotStageLabel(image.name) : `Picture: ${image.name}. Detected objects are listed in the results.`,
  );
  byId('empty', HTMLElement).hidden = true;
  status.showTimings(null, '');
  render();
  if (mode === 'detect') void runDetect();
  else
    void detectorFor('oneshot')
      .then((d) => preparedFor(d, image))
      .catch(() => undefined); // warm the encoder memory
}

function oneShotStageLabel(name: string): string {
  return `Picture: ${name}. Drag a rectangle around an object to find similar ones. Keyboard: ${KEYBOARD_HELP}.`;
}

async function setMode(next: DemoMode): Promise<void> {
  mode = next;
  controls.setMode(next);
  document.body.dataset.mode = next;
  highlight = null;
  const hint = byId('stage-hint', HTMLElement);
  hint.textContent =
    next === 'oneshot'
      ? 'Drag a rectangle around an object (drag a patch to move it, its corner to resize it); similar ones light up. ' +
        `Keyboard: focus the picture, then ${KEYBOARD_HELP}.`
      : 'Tip: drop or paste (Ctrl+V) an image anywhere on the page. Hover a box or a result to highlight it.';
  // In one-shot mode the picture takes keys (N, arrows, Enter, Delete): an application region.
  stage.element.setAttribute('role', next === 'oneshot' ? 'application' : 'img');
  // The timings beside the picture belong to this mode's last run, not the other mode's.
  status.showTimings((next === 'detect' ? lastDetect : lastOneShot)?.timings ?? null, '');
  if (picture !== null)
    stage.element.setAttribute(
      'aria-label',
      next === 'oneshot' ? oneShotStageLabel(picture.name) : `Picture: ${picture.name}. Detected objects are listed in the results.`,
    );
  render();
  try {
    const detector = await detectorFor(next);
    status.showBackend(detector.backend);
    // The load line names this mode's model, not whichever loaded last.
    if (mode === next) loader.showLoaded(detector, next === 'oneshot' && !oneShotIsMain ? 'the one-shot model' : 'the model');
    // Each model suggests where its matches start (the shipped one-shot model scores lower than the detector).
    if (mode === next) controls.suggestThreshold(detector.model.scoreThreshold);
  } catch {
    return; // the progress line already says why
  }
  if (webcam !== null) return void restartWatch();
  if (next === 'detect' && lastDetect === null) void runDetect();
  if (next === 'oneshot' && picture !== null && editor.patches.length > 0 && lastOneShot === null) void runOneShot(editor.patches);
}

editor.onChange(render);
editor.onCommit((patches) => void (webcam !== null ? updateLivePatches(patches) : runOneShot(patches)));
editor.onNotice((text) => status.message(text));
controls.onChange(render);
controls.onModeChange((next) => void setMode(next));
source.onImage(openPicture);
source.onError((text) => status.message(text, 'error'));
stage.onResize(render);
list.onHover((index) => {
  highlight = index;
  render();
});
stage.element.addEventListener('pointermove', (event) => {
  if (event.buttons !== 0) return;
  const bounds = stage.element.getBoundingClientRect();
  const next = boxAt(scene.boxes, stage.fit(), { x: event.clientX - bounds.left, y: event.clientY - bounds.top });
  if (next === highlight) return;
  highlight = next;
  render();
  list.setHighlight(next, true);
});
stage.element.addEventListener('pointerleave', () => {
  if (highlight === null) return;
  highlight = null;
  render();
});

webcamButton.addEventListener('click', () => {
  if (webcam !== null) return stopWebcam();
  void startLive();
});

/**
 * Live video (the webcam): the stage paints the video every animation frame and `detector.watch` runs
 * the model on its frames. Detect mode detects in every frame; Find similar describes each patch dragged
 * on the live view on the frame shown then (describePatches) and searches every later frame for all of
 * them (Shift+Delete clears them). The timings panel shows the rate and each stage of the last frame.
 */
async function startLive(): Promise<void> {
  try {
    webcamButton.setAttribute('aria-pressed', 'true');
    webcamButton.textContent = 'Stop webcam';
    editor.clear();
    let sized = false;
    const loop = await startWebcam(() => {
      const video = loop.video;
      if (video.videoWidth === 0) return;
      if (!sized) {
        stage.show(video, { width: video.videoWidth, height: video.videoHeight });
        byId('empty', HTMLElement).hidden = true;
        sized = true;
        render();
      } else stage.redrawPicture();
    });
    webcam = loop;
    picture?.bitmap.close();
    picture = null;
    pictureId++;
    lastDetect = null;
    lastOneShot = null;
    liveDescriptors.clear();
    await restartWatch();
  } catch (error) {
    stopWebcam();
    status.message(`Webcam unavailable: ${error instanceof Error ? error.message : String(error)}`, 'error');
  }
}

/** Patch descriptors of the live view, by patch rectangle: a moved or new patch is described on the frame shown when it is committed. */
const liveDescriptors = new Map<string, PatchDescriptors>();
let watching: VideoWatch | null = null;
const rectKey = (p: QueryPatch) => `${p.x},${p.y},${p.width},${p.height}`;

function stopWatch(): void {
  watching?.stop();
  watching = null;
  if (demo.live) demo.live.searching = 0;
}

/** (Re)starts the watch for the current mode: detect, or one-shot with the patches described so far (none: idle). */
async function restartWatch(): Promise<void> {
  stopWatch();
  const loop = webcam;
  if (loop === null) return;
  const oneShot = mode === 'oneshot';
  const detector = await detectorFor(mode).catch(() => null);
  if (detector === null || webcam !== loop) return;
  const sets = editor.patches.flatMap((p) => liveDescriptors.get(rectKey(p)) ?? []);
  if (oneShot && sets.length === 0) {
    status.showTimings(null, 'Live: drag a box around an object on the video; every later frame is searched for it.');
    return;
  }
  if (!oneShot && !detector.model.detection)
    return status.message('This model only finds similar objects: choose Find similar and drag a box on the video.');
  demo.live = { results: 0, fps: 0, dropped: 0, latency: 0, mediaTime: 0, searching: sets.length };
  watching = await detector.watch(loop.video, {
    threshold: 0,
    ...(oneShot ? { patches: sets } : {}),
    onResult: (result) => {
      if (webcam !== loop) return;
      demo.runs++;
      demo.live = {
        results: result.frames,
        fps: result.fps,
        dropped: result.dropped,
        latency: result.latency,
        mediaTime: result.frame.mediaTime,
        searching: sets.length,
      };
      if (oneShot)
        lastOneShot = {
          patches: result.patches ?? [],
          timings: result.timings,
          backend: detector.backend,
          imageSize: result.imageSize,
          reusedImageFeatures: false,
        };
      else lastDetect = { detections: result.detections, timings: result.timings, backend: detector.backend, imageSize: result.imageSize };
      highlight = null;
      status.showTimings(
        result.timings,
        `Live: ${result.fps.toFixed(1)} frames/s, ${result.latency.toFixed(0)} ms from frame to boxes, ` +
          `${result.dropped} frames skipped while the model was busy.`,
      );
      render();
    },
    onError: (error) => {
      showError(error, 'Live video');
      stopWebcam();
    },
  });
}

/** A patch committed on the live view: describe the new ones on the frame shown now, forget removed ones, search with all. */
async function updateLivePatches(patches: readonly QueryPatch[]): Promise<void> {
  const loop = webcam;
  if (loop === null) return;
  const detector = await detectorFor('oneshot').catch(() => null);
  if (detector === null) return;
  const keep = new Set(patches.map(rectKey));
  for (const key of [...liveDescriptors.keys()]) if (!keep.has(key)) liveDescriptors.delete(key);
  const fresh = patches.filter((p) => !liveDescriptors.has(rectKey(p)));
  try {
    if (fresh.length > 0) setBusy('Describing the patch on this frame…');
    // One set per patch (each is dropped on its own later), described on the frame shown now.
    for (const patch of fresh) liveDescriptors.set(rectKey(patch), await detector.describePatches(loop.video, [patch]));
  } catch (error) {
    showError(error, 'Describing the patch');
  } finally {
    setBusy(null);
  }
  if (webcam !== loop) return;
  if (patches.length === 0) lastOneShot = null;
  await restartWatch();
  render();
}

async function start(): Promise<void> {
  // On a static host without COOP/COEP headers, reload once through isolation-sw.js so WASM gets threads.
  if ((await enableCrossOriginIsolation({ serviceWorkerUrl: 'isolation-sw.js' })) === 'reloading') return;
  // The picture first: it shows while the model downloads, and runs as soon as the model is ready.
  if (params.image !== 'none') void source.openSample(params.image);
  void setMode(mode);
  try {
    mainDetector = await detectorFor('detect');
    demo.backend = mainDetector.backend;
    demo.model = mainDetector.model;
    demo.ready = true;
    status.showBackend(mainDetector.backend);
    const canDetect = mainDetector.model.detection;
    controls.setModeAvailability('detect', canDetect, 'this model only finds similar objects');
    if (!canDetect && mode !== 'oneshot') await setMode('oneshot');
    // A one-shot-only model works on the webcam too: drag a box on the live video (Find similar).
  } catch (error) {
    demo.errors.push(`load: ${error instanceof Error ? error.message : String(error)}`);
    status.message('Without a model the page can show pictures but not detect anything.', 'error');
  }
}

void start();
