/**
 * `detector.watch(video | stream, options)`: detection (or a one-shot search) on live video, paced by
 * the video's own frames. Each new frame (requestVideoFrameCallback; requestAnimationFrame where it is
 * missing) is sent only when the previous one has come back: while the model is busy, frames are dropped
 * (counted) instead of queued, so results never lag behind a backlog. `fps` caps the rate further. Each
 * result carries its frame's timestamp (mediaTime, and the camera's captureTime where the browser gives
 * it), the time from that frame to its result, the stage timings and the rate over the last results.
 */
import { InputError } from '../errors.js';
import type { Detection, DetectOptions, ImageInput, OneShotResult, PatchDescriptors, PatchDetections, StageTimings } from './types.js';

/** The part of a Detector that watch drives (kept small so tests can supply a fake). */
export interface WatchTarget {
  detect(
    image: ImageInput,
    options?: DetectOptions,
  ): Promise<{ detections: Detection[]; timings: StageTimings; imageSize: { width: number; height: number } }>;
  detectWithPatches(
    image: ImageInput,
    patches: PatchDescriptors | readonly PatchDescriptors[],
    options?: DetectOptions,
  ): Promise<OneShotResult>;
}

export interface WatchFrame {
  /** The frame's presentation time in the video (s), from requestVideoFrameCallback; else video.currentTime. */
  mediaTime: number;
  /** Frames the video had presented when this one was taken (requestVideoFrameCallback), else undefined. */
  presentedFrames?: number;
  /** When a camera captured it (performance.now() clock, ms), where the browser says. */
  captureTime?: number;
  /** When it was taken for the model (performance.now(), ms). */
  takenAt: number;
}

export interface WatchResult {
  frame: WatchFrame;
  /** Plain detection: the boxes; with patches: every patch's matches flattened (also in `patches`). */
  detections: Detection[];
  /** With patches: per patch, as detectWithPatches returns them. */
  patches?: PatchDetections[];
  timings: StageTimings;
  imageSize: { width: number; height: number };
  /** Milliseconds from taking the frame to this result. */
  latency: number;
  /** Results per second over the last few results. */
  fps: number;
  /** Frames dropped so far because the model was busy (or over `fps`). */
  dropped: number;
  /** Results so far, this one included. */
  frames: number;
}

/** One-shot on video: descriptor sets (describePatches), searched in every frame; null for plain detection. */
export type WatchPatches = PatchDescriptors | readonly PatchDescriptors[] | null;

export interface WatchOptions extends Omit<DetectOptions, 'replaceable' | 'raw' | 'zoom'> {
  onResult: (result: WatchResult) => void;
  /** A frame's call failed (the watch goes on; `stop()` it here if the error is fatal). Default: console.error. */
  onError?: (error: unknown) => void;
  /** At most this many frames a second go to the model (default: as fast as it answers). */
  fps?: number;
  /** Search every frame for these patches instead of detecting (one-shot packages). */
  patches?: WatchPatches;
}

export interface VideoWatch {
  /** The video being watched (the one given, or the one made for a MediaStream). */
  readonly video: HTMLVideoElement;
  /** Replaces the patches searched from the next frame on (null: plain detection). */
  setPatches(patches: WatchPatches): void;
  readonly stopped: boolean;
  /** Stops taking frames; a frame in flight still completes but is not reported. Tracks of a given stream are left running. */
  stop(): void;
}

type VideoWithFrameCallback = HTMLVideoElement & {
  requestVideoFrameCallback?: (
    callback: (now: number, metadata: { mediaTime: number; presentedFrames: number; captureTime?: number }) => void,
  ) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

function hasPatches(patches: WatchPatches | undefined): patches is PatchDescriptors | readonly PatchDescriptors[] {
  return patches !== null && patches !== undefined && (!Array.isArray(patches) || patches.length > 0);
}

async function videoOf(source: HTMLVideoElement | MediaStream): Promise<{ video: HTMLVideoElement; owned: boolean }> {
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) return { video: source, owned: false };
  if (typeof MediaStream !== 'undefined' && source instanceof MediaStream) {
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = source;
    await video.play();
    return { video, owned: true };
  }
  throw new InputError('watch needs an HTMLVideoElement or a MediaStream');
}

export async function startWatch(target: WatchTarget, source: HTMLVideoElement | MediaStream, options: WatchOptions): Promise<VideoWatch> {
  if (typeof options?.onResult !== 'function') throw new InputError('watch needs an onResult callback');
  if (options.fps !== undefined && !(Number.isFinite(options.fps) && options.fps > 0))
    throw new InputError(`fps must be a positive number, got ${options.fps}`);
  const { video, owned } = await videoOf(source);
  const element = video as VideoWithFrameCallback;
  const {
    onResult,
    onError = (error: unknown) => console.error('webdetr watch:', error),
    fps: maxFps,
    patches: initial,
    ...detectOptions
  } = options;
  let patches: WatchPatches = initial ?? null;
  let stopped = false;
  let busy = false;
  let handle: number | undefined;
  let dropped = 0;
  let frames = 0;
  let lastSent = Number.NEGATIVE_INFINITY;
  const recent: number[] = [];

  const schedule = (): void => {
    if (stopped) return;
    handle = element.requestVideoFrameCallback
      ? element.requestVideoFrameCallback(onFrame)
      : requestAnimationFrame((now) => onFrame(now, { mediaTime: video.currentTime }));
  };

  async function run(frame: WatchFrame): Promise<void> {
    const current = patches;
    const options = { ...detectOptions, replaceable: true };
    const found = hasPatches(current) ? await target.detectWithPatches(video, current, options) : await target.detect(video, options);
    // With patches: every patch's boxes as one list, and the per-patch results beside it.
    const result: WatchResult = {
      frame,
      ...('patches' in found
        ? { detections: found.patches.flatMap((p) => p.detections), patches: found.patches }
        : { detections: found.detections }),
      timings: found.timings,
      imageSize: found.imageSize,
      latency: 0,
      fps: 0,
      dropped,
      frames,
    };
    const now = performance.now();
    recent.push(now);
    while (recent.length > 10) recent.shift();
    frames++;
    const span = (recent.at(-1) ?? now) - (recent[0] ?? now);
    result.frames = frames;
    result.dropped = dropped;
    result.latency = now - frame.takenAt;
    result.fps = recent.length > 1 && span > 0 ? ((recent.length - 1) * 1000) / span : 0;
    if (!stopped) onResult(result);
  }

  function onFrame(now: number, metadata: { mediaTime: number; presentedFrames?: number; captureTime?: number }): void {
    if (stopped) return;
    schedule();
    // A frame arrives while the last one is still in the model, or sooner than fps allows: drop it.
    if (busy || video.readyState < 2 || (maxFps !== undefined && now - lastSent < 1000 / maxFps - 1)) {
      if (busy || maxFps !== undefined) dropped++;
      return;
    }
    busy = true;
    lastSent = now;
    const frame: WatchFrame = {
      mediaTime: metadata.mediaTime,
      ...(metadata.presentedFrames !== undefined ? { presentedFrames: metadata.presentedFrames } : {}),
      ...(metadata.captureTime !== undefined ? { captureTime: metadata.captureTime } : {}),
      takenAt: performance.now(),
    };
    run(frame)
      .catch((error: unknown) => {
        // A replaced call (another caller's newer frame) is not an error of the watch.
        if ((error as { code?: unknown })?.code !== 'superseded' && !stopped) onError(error);
      })
      .finally(() => {
        busy = false;
      });
  }

  schedule();
  return {
    video,
    setPatches(next) {
      patches = next;
    },
    get stopped() {
      return stopped;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (handle !== undefined) {
        if (element.cancelVideoFrameCallback) element.cancelVideoFrameCallback(handle);
        else cancelAnimationFrame(handle);
      }
      if (owned) {
        video.pause();
        video.srcObject = null;
      }
    },
  };
}
