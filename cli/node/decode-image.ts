/**
 * Image files → RGBA bytes in Node, with the pixels the browser path and the PyTorch tools see:
 * - JPEG: mozjpeg's decoder compiled to WebAssembly (@jsquash/jpeg). It is libjpeg-turbo's decoder
 *   (islow DCT, fancy upsampling, as Pillow and chromium use it): measured on 50 JPEGs of
 *   ../shared/data (colour and greyscale, 4:2:0 and 4:4:4), max |difference| to Pillow 0 (jpeg-js, the
 *   pure-JS port, differed by up to 28 levels). EXIF orientation is applied, as chromium's
 *   createImageBitmap does for the page (imageOrientation 'from-image', its default); equal to
 *   Pillow's ImageOps.exif_transpose.
 * - PNG: ./png.ts (zlib).
 * Anything else is refused with a typed error that names the way out (convert it, or --backend webgpu,
 * where chromium decodes it).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import decodeJpegWasm, { init as initJpeg } from '@jsquash/jpeg/decode.js';
import { InputError } from '../../src/errors.js';
import type { RgbaPixels } from '../../src/kernels/bilinear-reference.js';
import { checkImageSize } from '../../src/worker/image-store.js';
import { decodePng, isPng } from './png.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp' | 'unknown';

export function sniffFormat(bytes: Uint8Array): ImageFormat {
  const ascii = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (isPng(bytes)) return 'png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 2) === 'BM') return 'bmp';
  return 'unknown';
}

/** The decoder's warnings and errors (libjpeg's messages), collected instead of printed to stderr. */
let jpegMessages: string[] = [];
let jpegReady: Promise<void> | undefined;

function jpegDecoder(): Promise<void> {
  // The .wasm is read from node_modules: the emscripten glue's own lookup expects a browser's fetch.
  jpegReady ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasm = await WebAssembly.compile(await readFile(require.resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm')));
    // init(module, overrides) is the two-argument form of @jsquash/jpeg 1.6 (its .d.ts names only one).
    const init = initJpeg as (module: WebAssembly.Module, overrides: { print(text: string): void; printErr(text: string): void }) => Promise<void>;
    await init(wasm, { print: (text) => jpegMessages.push(text), printErr: (text) => jpegMessages.push(text) });
  })();
  return jpegReady;
}

async function decodeJpeg(bytes: Uint8Array): Promise<RgbaPixels> {
  await jpegDecoder();
  jpegMessages = [];
  // A copy of exactly these bytes: a Buffer's .buffer may be a shared pool holding other data too.
  const copy = new Uint8Array(bytes).buffer;
  let image: { data: Uint8ClampedArray; width: number; height: number };
  try {
    image = await decodeJpegWasm(copy, { preserveOrientation: true });
    // libjpeg's fatal errors exit() the emscripten program; the module still decodes the next image (tested).
  } catch (cause) {
    const why = jpegMessages.join('; ') || (cause instanceof Error ? cause.message : 'not a decodable JPEG');
    throw new InputError(`could not decode the JPEG: ${why}`, { cause });
  }
  if (!(image.width > 0 && image.height > 0)) throw new InputError(`could not decode the JPEG: ${jpegMessages.join('; ') || 'no image in it'}`);
  return { data: image.data, width: image.width, height: image.height };
}

/** Decodes image file bytes; throws InputError (code invalid-input) when they are no image we decode. */
export async function decodeImage(bytes: Uint8Array): Promise<RgbaPixels> {
  const format = sniffFormat(bytes);
  if (format === 'jpeg') {
    const image = await decodeJpeg(bytes);
    checkImageSize(image.width, image.height);
    return image;
  }
  if (format === 'png') {
    let image: RgbaPixels;
    try {
      image = decodePng(bytes);
    } catch (cause) {
      throw new InputError(`could not decode the PNG: ${(cause instanceof Error ? cause.message : String(cause)).replace(/^decodePng: /, '')}`, { cause });
    }
    checkImageSize(image.width, image.height);
    return image;
  }
  const what = format === 'unknown' ? 'not a JPEG or PNG file' : `a ${format.toUpperCase()} file`;
  throw new InputError(`${what}: the WASM path in Node decodes JPEG and PNG; convert it, or run with --backend webgpu (chromium decodes it)`);
}

/** An error while reading a file (missing, a directory, no permission): code image-read. */
export class ImageReadError extends Error {
  readonly code = 'image-read';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageReadError';
  }
}

export async function readImageFile(path: string): Promise<RgbaPixels> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new ImageReadError(`could not read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : String((cause as Error).message ?? cause)}`, { cause });
  }
  return decodeImage(bytes);
}
