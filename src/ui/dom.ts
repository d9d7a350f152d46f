/** Small DOM helpers for the demo and the state object it publishes for tests. */
import type { BackendInfo, BoxRect, DetectionResult, DetectorStats, ModelInfo, OneShotResult, QueryPatch } from '../api/types.js';
import type { DemoMode } from './params.js';

export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no <${type.name}> #${id}`);
  return element;
}

/** What the page shows, readable by the e2e test as window.__webdetrDemo. */
export interface DemoState {
  ready: boolean;
  busy: boolean;
  /** Model runs so far (detect or one-shot calls that returned). */
  runs: number;
  mode: DemoMode;
  backend: BackendInfo | null;
  model: ModelInfo | null;
  image: { name: string; width: number; height: number } | null;
  /** The last raw results (threshold 0), exactly as the runtime returned them. */
  lastDetect: DetectionResult | null;
  lastOneShot: OneShotResult | null;
  patches: QueryPatch[];
  threshold: number;
  /** Image → stage CSS pixels: stage = offset + image × scale. */
  fit: { scale: number; offsetX: number; offsetY: number };
  showBoxes: boolean;
  /** Boxes on the overlay now, with their outline as drawn in stage CSS pixels (clipped to the picture). */
  drawn: { label: string; rgb: [number, number, number]; dashed: boolean; box: BoxRect; stageRect: BoxRect }[];
  /** False once calls with a PreparedImage failed and the demo sends the picture with every call. */
  preparedImages: boolean;
  /** Live video (webcam): results so far, their rate, frames dropped while busy, the last frame's latency; null when off. */
  live: { results: number; fps: number; dropped: number; latency: number; mediaTime: number; searching: number } | null;
  errors: string[];
}

declare global {
  interface Window {
    __webdetrDemo?: DemoState;
    /** e2e: memory of the loaded detectors now (detector.stats()), for the live-video leak check. */
    __webdetrDemoStats?: () => Promise<{ main: DetectorStats | null; oneShot: DetectorStats | null }>;
  }
}

export function exposeDemoState(): DemoState {
  const state: DemoState = {
    ready: false,
    busy: false,
    runs: 0,
    mode: 'detect',
    backend: null,
    model: null,
    image: null,
    lastDetect: null,
    lastOneShot: null,
    patches: [],
    threshold: 0,
    fit: { scale: 1, offsetX: 0, offsetY: 0 },
    showBoxes: true,
    drawn: [],
    preparedImages: true,
    live: null,
    errors: [],
  };
  window.__webdetrDemo = state;
  return state;
}
