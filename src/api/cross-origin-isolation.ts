/**
 * Cross-origin isolation on a plain static host: onnxruntime-web runs WASM with threads only in a
 * cross-origin isolated page (SharedArrayBuffer), which normally takes two response headers (COOP/COEP).
 * Where the host cannot send them, `isolation-sw.js` (shipped in `public/` and beside the embed build) adds
 * them from a service worker; this registers it and reloads the page once so the page itself is served
 * through it. Never loops: after one reload that did not isolate the page it reports 'failed'.
 */

export type IsolationState =
  /** The page is cross-origin isolated: WASM threads are available. */
  | 'isolated'
  /** The service worker was registered and the page is reloading through it. */
  | 'reloading'
  /** No service workers here (not a secure context, or the browser has none). */
  | 'unsupported'
  /** A reload through the service worker did not isolate the page (e.g. a cross-origin frame). */
  | 'failed';

export interface IsolationOptions {
  /** URL of isolation-sw.js, relative to the page (default './isolation-sw.js'); its directory must hold the page. */
  serviceWorkerUrl?: string | URL;
}

const RELOADED = 'webdetr:isolation-reloaded';

/** sessionStorage, or null where it throws (sandboxed frames, storage off): then no reload is tried. */
function tabStorage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Makes the page cross-origin isolated through isolation-sw.js when the host did not; call it first thing on
 * page load, before creating detectors (on 'reloading' the page is about to reload).
 */
export async function enableCrossOriginIsolation(options: IsolationOptions = {}): Promise<IsolationState> {
  const storage = tabStorage();
  if (globalThis.crossOriginIsolated === true) {
    storage?.removeItem(RELOADED);
    return 'isolated';
  }
  if (storage === null || !globalThis.isSecureContext || !('serviceWorker' in navigator)) return 'unsupported';
  if (storage.getItem(RELOADED) !== null) return 'failed';
  await navigator.serviceWorker.register(options.serviceWorkerUrl ?? './isolation-sw.js');
  await navigator.serviceWorker.ready;
  storage.setItem(RELOADED, '1');
  location.reload();
  return 'reloading';
}
