/**
 * Webcam: the camera's stream in a <video> that the stage redraws every animation frame. The model's
 * pacing is not here: main.ts hands the video to `detector.watch`, which takes frames as the video
 * presents them and drops those that arrive while the model is busy.
 */

export interface WebcamLoop {
  readonly video: HTMLVideoElement;
  readonly stream: MediaStream;
  stop(): void;
}

export async function startWebcam(onPaint: () => void): Promise<WebcamLoop> {
  if (navigator.mediaDevices?.getUserMedia === undefined)
    throw new Error('this browser has no camera access (it needs https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'environment' },
    audio: false,
  });
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  await video.play();
  let running = true;
  const paint = () => {
    if (!running) return;
    onPaint();
    requestAnimationFrame(paint);
  };
  requestAnimationFrame(paint);
  return {
    video,
    stream,
    stop() {
      running = false;
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}
