/**
 * detector.watch's contract (src/api/watch.ts) on a fake <video> and a fake detector, so each rule is
 * seen on its own: one call per presented frame while idle, frames presented while a call is in flight
 * dropped and counted (never queued), the fps cap, the frame's timestamps on its result, patches
 * switched from the next frame on, stop() (no more frames, an in-flight result not reported), replaced
 * calls not reported as errors. The e2e test (e2e/live-video.spec.ts) runs it on a real fake camera.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DetectOptions, OneShotResult, PatchDescriptors, StageTimings } from '../../src/api/types';
import { startWatch, type WatchOptions, type WatchResult, type WatchTarget } from '../../src/api/watch';
import { InputError, SupersededError } from '../../src/errors';

type FrameCallback = (now: number, metadata: { mediaTime: number; presentedFrames: number; captureTime?: number }) => void;

/** Enough of HTMLVideoElement for watch: a frame ready, and requestVideoFrameCallback driven by present(). */
class FakeVideo {
  readyState = 4;
  currentTime = 0;
  videoWidth = 320;
  videoHeight = 240;
  private next = 1;
  readonly pending = new Map<number, FrameCallback>();
  presented = 0;
  requestVideoFrameCallback(callback: FrameCallback): number {
    const handle = this.next++;
    this.pending.set(handle, callback);
    return handle;
  }
  cancelVideoFrameCallback(handle: number): void {
    this.pending.delete(handle);
  }
  /** A new frame is shown: every registered callback runs once (as the browser does). */
  present(now: number, mediaTime = now / 1000, captureTime?: number): void {
    this.presented++;
    const callbacks = [...this.pending.values()];
    this.pending.clear();
    for (const callback of callbacks)
      callback(now, { mediaTime, presentedFrames: this.presented, ...(captureTime !== undefined ? { captureTime } : {}) });
  }
}

const timings: StageTimings = { preprocess: 1, backbone: 0, encoder: 0, decoder: 0, model: 5, postprocess: 1, total: 7, stages: [] };
const box = { x: 1, y: 2, width: 3, height: 4 };
const detection = { box, score: 0.9, label: 'cat', classId: 0 };
const descriptors = { format: 'webdetr-patch-descriptors-1' } as unknown as PatchDescriptors;

/** A detector whose calls wait until released, recording what each was asked. */
function fakeTarget() {
  const calls: { kind: 'detect' | 'patches'; options?: DetectOptions; settle: (error?: unknown) => void }[] = [];
  const target: WatchTarget = {
    detect(_image, options) {
      return new Promise((resolve, reject) =>
        calls.push({
          kind: 'detect',
          options,
          settle: (error) =>
            error ? reject(error) : resolve({ detections: [detection], timings, imageSize: { width: 320, height: 240 } }),
        }),
      );
    },
    detectWithPatches(_image, _patches, options) {
      return new Promise<OneShotResult>((resolve, reject) =>
        calls.push({
          kind: 'patches',
          options,
          settle: (error) =>
            error
              ? reject(error)
              : resolve({
                  patches: [
                    { patch: box, detections: [detection, detection], views: 1 },
                    { patch: box, detections: [detection], views: 1 },
                  ],
                  timings,
                  backend: { name: 'wasm', description: 'WASM', reason: 'test' },
                  imageSize: { width: 320, height: 240 },
                  reusedImageFeatures: false,
                }),
        }),
      );
    },
  };
  return { target, calls };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

async function watchFake(options: Partial<WatchOptions> = {}) {
  const video = new FakeVideo();
  const { target, calls } = fakeTarget();
  const results: WatchResult[] = [];
  const errors: unknown[] = [];
  const watch = await startWatch(target, video as unknown as HTMLVideoElement, {
    onResult: (r) => results.push(r),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { video, calls, results, errors, watch };
}

beforeEach(() => {
  vi.stubGlobal('HTMLVideoElement', FakeVideo);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('detector.watch', () => {
  it('one call per presented frame while idle; each result carries its frame, latency, counts and timings', async () => {
    const { video, calls, results, watch } = await watchFake({ threshold: 0.3 });
    expect(calls).toHaveLength(0);
    video.present(1000, 1.5, 990);
    expect(calls).toHaveLength(1);
    // Every frame's call may be replaced by a newer one (the detector's call queue), with the options given.
    expect(calls[0]!.options).toMatchObject({ threshold: 0.3, replaceable: true });
    calls[0]!.settle();
    await settled();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      frame: { mediaTime: 1.5, presentedFrames: 1, captureTime: 990 },
      detections: [detection],
      timings,
      imageSize: { width: 320, height: 240 },
      frames: 1,
      dropped: 0,
    });
    expect(results[0]!.latency).toBeGreaterThanOrEqual(0);
    expect(results[0]!.frame.takenAt).toBeGreaterThan(0);
    video.present(1033);
    calls[1]!.settle();
    await settled();
    expect(results.map((r) => r.frames)).toEqual([1, 2]);
    expect(results[1]!.fps).toBeGreaterThan(0);
    watch.stop();
  });

  it('frames presented while the model is busy are dropped and counted, not queued', async () => {
    const { video, calls, results, watch } = await watchFake();
    video.present(0);
    video.present(33);
    video.present(66);
    expect(calls).toHaveLength(1);
    calls[0]!.settle();
    await settled();
    expect(results[0]!.dropped).toBe(2);
    // The backlog is not replayed: the next call waits for the next frame.
    expect(calls).toHaveLength(1);
    video.present(100);
    expect(calls).toHaveLength(2);
    watch.stop();
  });

  it('fps caps the rate: frames sooner than 1/fps after the last one sent are dropped', async () => {
    const { video, calls, watch } = await watchFake({ fps: 10 });
    for (let k = 0; k < 10; k++) {
      video.present(k * 33);
      calls.at(-1)!.settle();
      await settled();
    }
    // 0, 99 (>= 100 - 1 ms), 198, 297 ms: four of ten frames at ~30 fps.
    expect(calls).toHaveLength(4);
    watch.stop();
  });

  it('patches: detectWithPatches from the next frame on, matches flattened; null goes back to detect', async () => {
    const { video, calls, results, watch } = await watchFake({ patches: descriptors });
    video.present(0);
    calls[0]!.settle();
    await settled();
    expect(calls[0]!.kind).toBe('patches');
    expect(results[0]!.patches).toHaveLength(2);
    expect(results[0]!.detections).toHaveLength(3);
    watch.setPatches(null);
    video.present(33);
    calls[1]!.settle();
    await settled();
    expect(calls[1]!.kind).toBe('detect');
    expect(results[1]!.patches).toBeUndefined();
    watch.setPatches([descriptors, descriptors]);
    video.present(66);
    expect(calls[2]!.kind).toBe('patches');
    // An empty list is plain detection too.
    calls[2]!.settle();
    await settled();
    watch.setPatches([]);
    video.present(99);
    expect(calls[3]!.kind).toBe('detect');
    watch.stop();
  });

  it('stop(): no frame callback left, no more calls, and the frame in flight is not reported', async () => {
    const { video, calls, results, watch } = await watchFake();
    video.present(0);
    expect(video.pending.size).toBe(1);
    watch.stop();
    expect(watch.stopped).toBe(true);
    expect(video.pending.size).toBe(0);
    calls[0]!.settle();
    await settled();
    video.present(33);
    expect(calls).toHaveLength(1);
    expect(results).toHaveLength(0);
    watch.stop();
  });

  it('a replaced frame is not an error; a failed frame goes to onError and the watch goes on', async () => {
    const { video, calls, results, errors, watch } = await watchFake();
    video.present(0);
    calls[0]!.settle(new SupersededError());
    await settled();
    expect(errors).toEqual([]);
    video.present(33);
    const failure = new Error('lost');
    calls[1]!.settle(failure);
    await settled();
    expect(errors).toEqual([failure]);
    video.present(66);
    calls[2]!.settle();
    await settled();
    expect(results).toHaveLength(1);
    watch.stop();
  });

  it('refuses a missing onResult, a bad fps and a source that is no video or stream with InputError', async () => {
    const { target } = fakeTarget();
    const video = new FakeVideo() as unknown as HTMLVideoElement;
    await expect(startWatch(target, video, {} as WatchOptions)).rejects.toBeInstanceOf(InputError);
    for (const fps of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      await expect(startWatch(target, video, { onResult: () => undefined, fps })).rejects.toBeInstanceOf(InputError);
    await expect(startWatch(target, {} as HTMLVideoElement, { onResult: () => undefined })).rejects.toBeInstanceOf(InputError);
  });
});
