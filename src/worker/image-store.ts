/**
 * Images the worker holds for reuse (`prepareImage`): the newest few, keyed by id. ImageBitmaps are
 * closed on eviction, and RGBA bytes for the CPU path are decoded once per image, lazily.
 */
import type { PreparedImage } from '../api/types.js';
import { DisposedError, InputError } from '../errors.js';
import type { RgbaPixels } from '../kernels/bilinear-reference.js';

/** What reaches the engine: a transferred ImageBitmap (browser) or raw RGBA bytes (ImageData, Node). */
export type EnginePixels = ImageBitmap | RgbaPixels;

/** Largest source side we accept (the bilinear kernels' index math and texture limits). */
export const MAX_IMAGE_SIDE = 16384;
/** Largest source area: 64 megapixels of RGBA is 256 MB already. */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

export interface StoredImage {
  prepared: PreparedImage;
  pixels: EnginePixels;
  rgba?: RgbaPixels;
}

export function checkImageSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`the image is empty (${width}x${height}); it needs at least 1x1 pixels`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new InputError(
      `the image is too large (${width}x${height}); the limit is ${MAX_IMAGE_SIDE} pixels a side and ` +
        `${MAX_IMAGE_PIXELS / 2 ** 20} megapixels — scale it down first`,
    );
  }
}

function isBitmap(pixels: EnginePixels): pixels is ImageBitmap {
  return typeof ImageBitmap !== 'undefined' && pixels instanceof ImageBitmap;
}

/** RGBA bytes of a bitmap, drawn once on an OffscreenCanvas (workers have no DOM). */
function decodeBitmap(bitmap: ImageBitmap): RgbaPixels {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new InputError('no 2d canvas context to read the image pixels');
  context.drawImage(bitmap, 0, 0);
  const { data, width, height } = context.getImageData(0, 0, bitmap.width, bitmap.height);
  return { data, width, height };
}

/** The image's RGBA bytes (the CPU preprocessor's input): a bitmap is decoded on first use and kept with it. */
export function rgbaOf(stored: StoredImage): RgbaPixels {
  stored.rgba ??= isBitmap(stored.pixels) ? decodeBitmap(stored.pixels) : stored.pixels;
  return stored.rgba;
}

export class ImageStore {
  private readonly images = new Map<number, StoredImage>();
  private nextId = 1;
  private disposed = false;

  constructor(private readonly capacity = 4) {}

  add(pixels: EnginePixels): StoredImage {
    if (this.disposed) throw new DisposedError('detector');
    const { width, height } = pixels;
    checkImageSize(width, height);
    if (!isBitmap(pixels) && pixels.data.length !== width * height * 4) {
      throw new InputError(`expected ${width * height * 4} RGBA bytes for a ${width}x${height} image, got ${pixels.data.length}`);
    }
    const stored: StoredImage = { prepared: { kind: 'prepared-image', id: this.nextId++, width, height }, pixels };
    this.images.set(stored.prepared.id, stored);
    while (this.images.size > this.capacity) {
      const oldest = this.images.keys().next().value as number;
      this.release(oldest);
    }
    return stored;
  }

  /** Images held now. */
  get size(): number {
    return this.images.size;
  }

  get(id: number): StoredImage {
    const stored = this.images.get(id);
    if (stored === undefined) {
      throw new InputError(`prepared image ${id} is no longer held (only the newest ${this.capacity} are kept); prepare it again`);
    }
    return stored;
  }

  release(id: number): void {
    const stored = this.images.get(id);
    if (stored === undefined) return;
    if (isBitmap(stored.pixels)) stored.pixels.close();
    this.images.delete(id);
  }

  dispose(): void {
    for (const id of [...this.images.keys()]) this.release(id);
    this.disposed = true;
  }
}
