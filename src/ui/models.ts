/**
 * Loads detectors by manifest URL (each URL once; a failed load can be retried), with the byte
 * progress bar, and turns load failures into sentences a newcomer can act on.
 */
import { createDetector } from '../api/create-detector.js';
import type { BackendPreference, Detector, ModelInfo } from '../api/types.js';
import { WebDetrError } from '../errors.js';
import { formatBytes, type LoadProgressView } from './load-progress.js';

export interface ModelLoader {
  load(url: string, what: string): Promise<Detector>;
  /**
   * Shows `detector` as the loaded model on the load line (the mode's model after a mode switch: the
   * line said whichever model loaded last). Ignored while a load is under way: its progress shows.
   */
  showLoaded(detector: Detector, what: string): void;
}

function loadedText(what: string, detector: Detector): string {
  return `${what[0]?.toUpperCase() ?? ''}${what.slice(1)} loaded. ${describeModel(detector.model)}`;
}

export function describeLoadError(error: unknown, url: string): string {
  const code = error instanceof WebDetrError ? error.code : undefined;
  const status = (error as { status?: number }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'model-fetch' && status === 404) {
    return (
      `No model package at ${url} (HTTP 404). The bundled models may not be built yet: ` +
      "open this page with ?model=<URL of a model package's manifest.json> (see docs/demo.md)."
    );
  }
  if (code === 'model-fetch') return `Could not download the model from ${url}: ${message}`;
  if (code === 'invalid-manifest') return `${url} is not a valid webdetr model package: ${message}`;
  if (code === 'model-integrity') return `A model file arrived damaged (${message}). Reload to try again.`;
  return `The model could not be loaded: ${message}`;
}

export function describeModel(model: ModelInfo): string {
  const family = model.family === 'up-detr' ? 'UP-DETR' : 'Deformable-DETR';
  const zoom = model.zoom === undefined ? '' : ' (small patches are also searched in enlarged windows)';
  const what = model.detection
    ? `${model.classNames.filter((n) => n !== 'N/A').length} classes`
    : `finds objects like the patch you drag${zoom}`;
  const variant = model.detection || model.variant.includes('one-shot') ? model.variant : `${model.variant} one-shot`;
  // The whole download of a first visit: the graphs and onnxruntime's .wasm (shared by every model on the page).
  const runtime = model.runtimeBytes ?? 0;
  const size =
    runtime > 0
      ? `${formatBytes(model.downloadBytes + runtime)} download ` +
        `(graphs ${formatBytes(model.downloadBytes)} + runtime ${formatBytes(runtime)})`
      : formatBytes(model.downloadBytes);
  return `Model: ${family} ${variant}, ${what}, ${inputText(model)}, ${size}.`;
}

function inputText(model: ModelInfo): string {
  const policy = model.sizePolicy;
  if (policy?.kind === 'shorter-side')
    return `input at the picture's aspect ratio (shorter side ${policy.shortest}, longer ≤ ${policy.longest})`;
  return `input ${model.inputSize.width}×${model.inputSize.height}`;
}

export function createModelLoader(progress: LoadProgressView, backend: BackendPreference, cache: boolean): ModelLoader {
  const loaded = new Map<string, Promise<Detector>>();
  let loading = 0;
  return {
    load(url, what) {
      const known = loaded.get(url);
      if (known !== undefined) return known;
      const onProgress = progress.start(what);
      const pending = createDetector({ model: url, backend, cache, onProgress });
      loaded.set(url, pending);
      loading++;
      pending.then(
        (detector) => {
          loading--;
          progress.finish(loadedText(what, detector));
        },
        (error: unknown) => {
          loading--;
          loaded.delete(url);
          progress.fail(describeLoadError(error, url));
        },
      );
      return pending;
    },
    showLoaded(detector, what) {
      if (loading === 0) progress.finish(loadedText(what, detector));
    },
  };
}
