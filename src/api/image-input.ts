/**
 * Page side: any supported image -> what crosses to the worker. Decoded bitmaps are transferred (no
 * copy); the caller's own objects are never detached or closed. Bytes stay as decoded: no
 * premultiplied alpha and no colour-space conversion, like PIL's decode in the reference pipeline.
 */
import { InputError } from '../errors.js';
import type { ImageInput } from './types.js';
import { checkImageSize, type EnginePixels } from '../worker/image-store.js';

const BITMAP_OPTIONS: ImageBitmapOptions = { premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

export interface WorkerImage {
  pixels: EnginePixels;
  transfer: Transferable[];
}

function isImageData(image: ImageInput): image is ImageData {
  return typeof ImageData !== 'undefined' && image instanceof ImageData;
}

/** Pixel size of a source when it is known without decoding (not for Blobs). */
function knownSize(image: ImageInput): { width: number; height: number } | undefined {
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement)
    return { width: image.naturalWidth, height: image.naturalHeight };
  // A video's width/height are its element's layout attributes; its frames are videoWidth x videoHeight.
  if (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement)
    return { width: image.videoWidth, height: image.videoHeight };
  if (typeof VideoFrame !== 'undefined' && image instanceof VideoFrame) return { width: image.displayWidth, height: image.displayHeight };
  if (typeof Blob !== 'undefined' && image instanceof Blob) return undefined;
  const { width, height } = image as { width?: unknown; height?: unknown };
  return typeof width === 'number' && typeof height === 'number' ? { width, height } : undefined;
}

export async function toWorkerImage(image: ImageInput): Promise<WorkerImage> {
  if (image === null || typeof image !== 'object') throw new InputError(`expected an image, got ${String(image)}`);
  if (isImageData(image)) {
    // Structured clone copies the bytes; the caller's ImageData stays usable.
    return { pixels: { data: image.data, width: image.width, height: image.height }, transfer: [] };
  }
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) {
    if (!image.complete || image.naturalWidth === 0) {
      await image.decode().catch((cause: unknown) => {
        throw new InputError(`the <img> could not be decoded (${image.currentSrc || image.src}): ${String(cause)}`, { cause });
      });
    }
  }
  if (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement && image.readyState < 2) {
    throw new InputError(`the <video> has no frame to read yet (readyState ${image.readyState}); wait for its loadeddata event`);
  }
  // Refuse empty and oversized sources before decoding: a 20000x20000 canvas would otherwise cost
  // 1.6 GB here and again in the worker.
  const size = knownSize(image);
  if (size !== undefined) checkImageSize(size.width, size.height);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image as ImageBitmapSource, BITMAP_OPTIONS);
  } catch (cause) {
    const kind =
      typeof Blob !== 'undefined' && image instanceof Blob ? `the ${image.type || 'untyped'} blob (${image.size} bytes)` : 'the image';
    throw new InputError(`could not decode ${kind}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return { pixels: bitmap, transfer: [bitmap] };
}
