/**
 * Page side: any supported image -> what crosses to the worker. Decoded bitmaps are transferred (no
 * copy); the caller's own objects are never detached or closed. Bytes stay as decoded: no
 * premultiplied alpha and no colour-space conversion, like PIL's decode in the reference pipeline.
 */
import { InputError } from '../errors.js';
import type { ImageInput } from './types.js';
import type { EnginePixels } from '../worker/image-store.js';

const BITMAP_OPTIONS: ImageBitmapOptions = { premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

export interface WorkerImage {
  pixels: EnginePixels;
  transfer: Transferable[];
}

function isImageData(image: ImageInput): image is ImageData {
  return typeof ImageData !== 'undefined' && image instanceof ImageData;
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
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image as ImageBitmapSource, BITMAP_OPTIONS);
  } catch (cause) {
    const kind = typeof Blob !== 'undefined' && image instanceof Blob ? `the ${image.type || 'untyped'} blob (${image.size} bytes)` : 'the image';
    throw new InputError(`could not decode ${kind}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return { pixels: bitmap, transfer: [bitmap] };
}
