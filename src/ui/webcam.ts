/**
 * Webcam: the live video is redrawn every animation frame, while detection runs as fast as the
 * model allows on the newest frame (`replaceable` calls: a stale queued frame is dropped by the
 * runtime with SupersededError, which is expected and ignored here).
 */

export interface WebcamLoop {
  readonly video: HTMLVideoElement;
  stop(): void;
}

export interface WebcamCallbacks {
  /** Called every animation frame to redraw the picture. */
  onPaint: () => void;
  /** Runs detection on one frame; resolves when its result has been shown. */
  onFrame: (frame: ImageBitmap) => Promise<void>;
}

export async function startWebcam(callbacks: WebcamCallbacks): Promise<WebcamLoop> {
  if (navigator.mediaDevices?.getUserMedia === undefined) throw new Error('this browser has no camera access (it needs https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'environment' }, audio: false });
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  await video.play();
  let running = true;

  const paint = () => {
    if (!running) return;
    callbacks.onPaint();
    requestAnimationFrame(paint);
  };
  requestAnimationFrame(paint);

  void (async () => {
    while (running) {
      if (video.readyState < 2) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const frame = await createImageBitmap(video);
      await callbacks.onFrame(frame).finally(() => frame.close());
    }
  })();

  return {
    video,
    stop() {
      running = false;
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}
