/**
 * The demo's settings, all from the page's query string so a link can share them:
 * `?model=` (detection package), `?oneshot=` (one-shot package for the "find similar" mode),
 * `?backend=auto|webgpu|wasm`, `?cache=0` (skip the Cache API), `?mode=detect|oneshot`,
 * `?image=<sample id>|none` (the photo opened at start).
 */
import type { BackendPreference } from '../api/types.js';

export type DemoMode = 'detect' | 'oneshot';

export interface DemoParams {
  /** Manifest URL of the detection model. */
  model: string;
  /** Manifest URL for one-shot mode when given explicitly; otherwise the detection model is used if it can, else the default. */
  oneShotModel: string | undefined;
  backend: BackendPreference;
  cache: boolean;
  mode: DemoMode | undefined;
  /** Sample to open at start; `none` opens nothing. */
  image: string;
}

export const DEFAULT_MODEL = 'models/detector/manifest.json';
export const DEFAULT_ONE_SHOT_MODEL = 'models/oneshot/manifest.json';

export function readParams(search: string): DemoParams {
  const query = new URLSearchParams(search);
  const backend = query.get('backend');
  const mode = query.get('mode');
  return {
    model: query.get('model') || DEFAULT_MODEL,
    oneShotModel: query.get('oneshot') || undefined,
    backend: backend === 'webgpu' || backend === 'wasm' ? backend : 'auto',
    cache: query.get('cache') !== '0',
    mode: mode === 'detect' || mode === 'oneshot' ? mode : undefined,
    image: query.get('image') || 'astronaut',
  };
}
