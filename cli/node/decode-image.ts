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
 * where chromium decodes it). A batch reads through createImageReader, which decodes JPEGs on a worker
 * thread, so the next image is decoded while the engine runs on the current one.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
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
    const init = initJpeg as (
      module: WebAssembly.Module,
      overrides: { print(text: string): void; printErr(text: string): void },
    ) => Promise<void>;
    await init(wasm, { print: (text) => jpegMessages.push(text), printErr: (text) => jpegMessages.push(text) });
  })();
  return jpegReady;
}

function jpegError(messages: string, cause?: unknown): InputError {
  return new InputError(`could not decode the JPEG: ${messages || (cause instanceof Error ? cause.message : 'not a decodable JPEG')}`, {
    cause,
  });
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
    throw jpegError(jpegMessages.join('; '), cause);
  }
  if (!(image.width > 0 && image.height > 0)) throw jpegError(jpegMessages.join('; ') || 'no image in it');
  return { data: image.data, width: image.width, height: image.height };
}

/**
 * The same decoder on a worker thread (plain JS: it runs from the sources in a checkout too). It
 * imports @jsquash/jpeg by the file URL resolved here and answers { id, width, height, data } or
 * { id, error } with libjpeg's messages; the pixels are copied out of the WebAssembly memory and
 * transferred.
 */
const JPEG_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const messages = [];
const ready = (async () => {
  const jpeg = await import(workerData.decoder);
  await jpeg.init(await WebAssembly.compile(readFileSync(workerData.wasm)), { print: (t) => messages.push(t), printErr: (t) => messages.push(t) });
  return jpeg.default;
})();
parentPort.on('message', async ({ id, bytes }) => {
  messages.length = 0;
  try {
    const decode = await ready;
    const image = await decode(bytes, { preserveOrientation: true });
    if (!(image.width > 0 && image.height > 0)) throw new Error('no image in it');
    const data = new Uint8ClampedArray(image.data);
    parentPort.postMessage({ id, width: image.width, height: image.height, data }, [data.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: messages.join('; ') || String((error && error.message) || 'not a decodable JPEG') });
  }
});
`;

type WorkerAnswer = { id: number; width: number; height: number; data: Uint8ClampedArray } | { id: number; error: string };

class JpegWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(image: RgbaPixels): void; reject(error: Error): void }>();
  private nextId = 0;

  constructor() {
    const require = createRequire(import.meta.url);
    const workerData = {
      decoder: pathToFileURL(require.resolve('@jsquash/jpeg/decode.js')).href,
      wasm: require.resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm'),
    };
    this.worker = new Worker(JPEG_WORKER, { eval: true, workerData });
    // It never keeps the process alive by itself; close() ends it.
    this.worker.unref();
    this.worker.on('message', (answer: WorkerAnswer) => {
      const waiting = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if ('error' in answer) waiting?.reject(jpegError(answer.error));
      else waiting?.resolve({ data: answer.data, width: answer.width, height: answer.height });
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', () => this.failAll(new Error('the JPEG decoding thread ended')));
  }

  decode(bytes: Uint8Array): Promise<RgbaPixels> {
    const id = this.nextId++;
    const copy = new Uint8Array(bytes);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, bytes: copy.buffer }, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}

/** Bytes → pixels, JPEG by `jpeg` (in this thread unless given). */
async function decodeWith(bytes: Uint8Array, jpeg: (bytes: Uint8Array) => Promise<RgbaPixels> = decodeJpeg): Promise<RgbaPixels> {
  const format = sniffFormat(bytes);
  if (format === 'jpeg') {
    const image = await jpeg(bytes);
    checkImageSize(image.width, image.height);
    return image;
  }
  if (format === 'png') {
    let image: RgbaPixels;
    try {
      image = decodePng(bytes);
    } catch (cause) {
      throw new InputError(
        `could not decode the PNG: ${(cause instanceof Error ? cause.message : String(cause)).replace(/^decodePng: /, '')}`,
        { cause },
      );
    }
    checkImageSize(image.width, image.height);
    return image;
  }
  const what = format === 'unknown' ? 'not a JPEG or PNG file' : `a ${format.toUpperCase()} file`;
  throw new InputError(
    `${what}: the WASM path in Node decodes JPEG and PNG; convert it, or run with --backend webgpu (chromium decodes it)`,
  );
}

/** Decodes image file bytes; throws InputError (code invalid-input) when they are no image we decode. */
export function decodeImage(bytes: Uint8Array): Promise<RgbaPixels> {
  return decodeWith(bytes);
}

/** An error while reading a file (missing, a directory, no permission): code image-read. */
export class ImageReadError extends Error {
  readonly code = 'image-read';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageReadError';
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new ImageReadError(
      `could not read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : String((cause as Error).message ?? cause)}`,
      { cause },
    );
  }
}

/** Reads and decodes one image file in this thread. */
export async function readImageFile(path: string): Promise<RgbaPixels> {
  return decodeImage(await readBytes(path));
}

/** Reads image files for a batch, JPEGs decoded on a worker thread; close() ends the thread. */
export function createImageReader(): { read(path: string): Promise<RgbaPixels>; close(): Promise<void> } {
  let worker: JpegWorker | undefined;
  return {
    async read(path) {
      const bytes = await readBytes(path);
      return decodeWith(bytes, (jpeg) => {
        worker ??= new JpegWorker();
        return worker.decode(jpeg);
      });
    },
    close: async () => worker?.close(),
  };
}
