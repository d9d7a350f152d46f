/**
 * Decoded pixels -> a reusable rgba8unorm texture that the bilinear kernels read with textureLoad.
 * Browser images (ImageBitmap, canvases, VideoFrame) go through copyExternalImageToTexture (no CPU
 * copy); raw RGBA bytes (ImageData, decoded buffers) through queue.writeTexture. The texture is
 * re-created only when the size changes, so a video loop allocates nothing per frame.
 *
 *   const uploader = createPixelUploader(device);
 *   const texture = uploader.upload(videoFrame);   // same GPUTexture every frame while the size holds
 */
import { DisposedError, InputError } from '../errors.js';

/** Row-major RGBA8 bytes, width * height * 4 of them (ImageData has this shape too). */
export interface RawRgbaPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export type PixelSource = ImageBitmap | HTMLCanvasElement | OffscreenCanvas | VideoFrame | ImageData | RawRgbaPixels;

export interface PixelUploader {
  /** Copies `source` into the texture (queued; ordered before later submits) and returns it. */
  upload(source: PixelSource): GPUTexture;
  /** The current texture, undefined before the first upload. */
  readonly texture: GPUTexture | undefined;
  /** Textures created so far (tests assert reuse). */
  readonly texturesCreated: number;
  /** Drops the texture (the next upload creates one): after a GPU error it may be invalid. */
  reset(): void;
  dispose(): void;
}

const LABEL = 'pixel_upload';

function isRaw(source: PixelSource): source is RawRgbaPixels | ImageData {
  return 'data' in source;
}

/** Pixel size of a source; VideoFrame reports its display size (what copyExternalImageToTexture copies). */
export function pixelSourceSize(source: PixelSource): { width: number; height: number } {
  if ('displayWidth' in source) return { width: source.displayWidth, height: source.displayHeight };
  return { width: source.width, height: source.height };
}

export function createPixelUploader(device: GPUDevice): PixelUploader {
  let texture: GPUTexture | undefined;
  let texturesCreated = 0;
  let disposed = false;
  // Some Chromium configurations (e.g. SwiftShader) reject copyExternalImageToTexture for a
  // VideoFrame; drawing it on a reused 2D canvas first is the portable, synchronous fallback.
  let frameCanvas: OffscreenCanvas | undefined;

  function copyFrameViaCanvas(frame: VideoFrame, target: GPUTexture, width: number, height: number): void {
    frameCanvas ??= new OffscreenCanvas(width, height);
    if (frameCanvas.width !== width || frameCanvas.height !== height) [frameCanvas.width, frameCanvas.height] = [width, height];
    const context = frameCanvas.getContext('2d');
    if (!context) throw new InputError('pixelUpload: no 2d canvas context to convert the VideoFrame');
    context.drawImage(frame, 0, 0, width, height);
    device.queue.copyExternalImageToTexture({ source: frameCanvas }, { texture: target, premultipliedAlpha: false }, { width, height });
  }

  function textureFor(width: number, height: number): GPUTexture {
    if (texture && texture.width === width && texture.height === height) return texture;
    texture?.destroy();
    texturesCreated++;
    texture = device.createTexture({
      label: `${LABEL}:${width}x${height}`,
      size: { width, height },
      format: 'rgba8unorm',
      // RENDER_ATTACHMENT is required by copyExternalImageToTexture.
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
    });
    return texture;
  }

  return {
    upload(source) {
      if (disposed) throw new DisposedError('PixelUploader');
      const { width, height } = pixelSourceSize(source);
      const max = device.limits.maxTextureDimension2D;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
        throw new InputError(`pixelUpload: image size must be at least 1x1, got ${width}x${height}`);
      }
      if (width > max || height > max) {
        throw new InputError(`pixelUpload: ${width}x${height} exceeds this device's maxTextureDimension2D (${max})`);
      }
      if (isRaw(source) && source.data.length !== width * height * 4) {
        throw new InputError(`pixelUpload: expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${source.data.length}`);
      }
      const target = textureFor(width, height);
      if (isRaw(source)) {
        // A SharedArrayBuffer-backed view is fine for writeTexture; the lib type just cannot say so.
        const bytes = source.data as ArrayBufferView<ArrayBuffer>;
        device.queue.writeTexture({ texture: target }, bytes, { bytesPerRow: width * 4, rowsPerImage: height }, { width, height });
      } else {
        // Straight (not premultiplied) alpha, no colour conversion beyond the source's sRGB bytes.
        try {
          device.queue.copyExternalImageToTexture({ source }, { texture: target, premultipliedAlpha: false }, { width, height });
        } catch (error) {
          if (!('displayWidth' in source) || typeof OffscreenCanvas === 'undefined') throw error;
          copyFrameViaCanvas(source, target, width, height);
        }
      }
      return target;
    },
    get texture() {
      return texture;
    },
    get texturesCreated() {
      return texturesCreated;
    },
    reset() {
      texture?.destroy();
      texture = undefined;
    },
    dispose() {
      disposed = true;
      texture?.destroy();
      texture = undefined;
    },
  };
}
