/**
 * PNG decoder for Node (zlib + the PNG filters): the CLI's WASM path decodes images without a browser,
 * and the Node tests decode their reference inputs with it. Every colour type (grey, RGB, palette,
 * grey + alpha, RGBA), bit depths 1-16 and Adam7 interlacing; returns row-major RGBA bytes (alpha 255
 * where the file has none, palette transparency from tRNS). Sixteen-bit samples keep their high byte
 * (libpng's strip_16, which Pillow's RGB;16B unpacking also does); grey below 8 bits is scaled to
 * 0..255. PNG has no colour management here, as in the browser path (colorSpaceConversion: 'none').
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  data: Uint8Array;
  width: number;
  height: number;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export function isPng(file: Uint8Array): boolean {
  return SIGNATURE.every((byte, i) => file[i] === byte);
}

/** Samples per pixel of each colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export function decodePng(file: Uint8Array): DecodedPng {
  if (!isPng(file)) throw new Error('decodePng: not a PNG file (bad signature)');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let paletteAlpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (offset + 8 <= file.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...file.subarray(offset + 4, offset + 8));
    if (offset + 12 + length > file.length) throw new Error(`decodePng: the file is truncated (chunk ${type} runs past the end)`);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      const header = new DataView(body.buffer, body.byteOffset, body.byteLength);
      width = header.getUint32(0);
      height = header.getUint32(4);
      depth = body[8] ?? 0;
      colorType = body[9] ?? -1;
      interlace = body[12] ?? 0;
      if (!(ALLOWED_DEPTHS[colorType] ?? []).includes(depth) || interlace > 1) {
        throw new Error(`decodePng: invalid PNG header (bit depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
      }
    } else if (type === 'PLTE') {
      palette = body;
    } else if (type === 'tRNS' && colorType === 3) {
      paletteAlpha = body;
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  if (width === 0 || height === 0) throw new Error('decodePng: no IHDR chunk, or an empty image');
  if (idat.length === 0) throw new Error('decodePng: no image data (IDAT)');
  if (colorType === 3 && palette === undefined) throw new Error('decodePng: a palette image without PLTE');
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (cause) {
    throw new Error(`decodePng: corrupt image data (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
  const channels = CHANNELS[colorType] ?? 1;
  const bitsPerPixel = channels * depth;
  /** Bytes to the same sample of the previous pixel, for the filters (at least 1). */
  const filterStep = Math.max(1, bitsPerPixel >> 3);
  const data = new Uint8Array(width * height * 4);
  let position = 0;
  const passes = interlace === 1 ? ADAM7 : ([[0, 0, 1, 1]] as const);
  for (const [x0, y0, dx, dy] of passes) {
    const passWidth = Math.ceil((width - x0) / dx);
    const passHeight = Math.ceil((height - y0) / dy);
    if (passWidth <= 0 || passHeight <= 0) continue;
    const stride = Math.ceil((passWidth * bitsPerPixel) / 8);
    if (position + passHeight * (stride + 1) > raw.length) throw new Error('decodePng: the image data is truncated');
    let previous = new Uint8Array(stride);
    let row = new Uint8Array(stride);
    for (let y = 0; y < passHeight; y++) {
      const filter = raw[position] ?? 0;
      const line = raw.subarray(position + 1, position + 1 + stride);
      position += stride + 1;
      unfilter(filter, line, previous, row, filterStep);
      writeRow(row, (y0 + y * dy) * width, x0, dx, passWidth, colorType, depth, palette, paletteAlpha, data);
      [previous, row] = [row, previous];
    }
  }
  return { data, width, height };
}

function unfilter(filter: number, line: Uint8Array, previous: Uint8Array, out: Uint8Array, step: number): void {
  for (let x = 0; x < line.length; x++) {
    const a = x >= step ? (out[x - step] as number) : 0;
    const b = previous[x] as number;
    const c = x >= step ? (previous[x - step] as number) : 0;
    let predicted = 0;
    if (filter === 1) predicted = a;
    else if (filter === 2) predicted = b;
    else if (filter === 3) predicted = (a + b) >> 1;
    else if (filter === 4) {
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    } else if (filter !== 0) throw new Error(`decodePng: unknown filter type ${filter}`);
    out[x] = ((line[x] as number) + predicted) & 255;
  }
}

/** One unfiltered row of a pass → RGBA pixels (image row start `rowStart`, columns x0, x0 + dx, ...). */
function writeRow(
  row: Uint8Array,
  rowStart: number,
  x0: number,
  dx: number,
  count: number,
  colorType: number,
  depth: number,
  palette: Uint8Array | undefined,
  paletteAlpha: Uint8Array | undefined,
  data: Uint8Array,
): void {
  const channels = CHANNELS[colorType] ?? 1;
  const bytesPerSample = depth === 16 ? 2 : 1;
  for (let i = 0; i < count; i++) {
    const out = (rowStart + x0 + i * dx) * 4;
    if (depth < 8) {
      const bit = i * depth;
      const value = ((row[bit >> 3] as number) >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
      if (colorType === 3) writePaletteEntry(value, palette, paletteAlpha, data, out);
      else data.fill((value * 255) / ((1 << depth) - 1), out, out + 3);
      if (colorType !== 3) data[out + 3] = 255;
      continue;
    }
    // The high byte of each sample (the first, big-endian) for 16 bits.
    const sample = (k: number) => row[(i * channels + k) * bytesPerSample] as number;
    if (colorType === 3) writePaletteEntry(sample(0), palette, paletteAlpha, data, out);
    else if (colorType === 0 || colorType === 4) {
      data.fill(sample(0), out, out + 3);
      data[out + 3] = colorType === 4 ? sample(1) : 255;
    } else {
      data[out] = sample(0);
      data[out + 1] = sample(1);
      data[out + 2] = sample(2);
      data[out + 3] = colorType === 6 ? sample(3) : 255;
    }
  }
}

function writePaletteEntry(
  index: number,
  palette: Uint8Array | undefined,
  alpha: Uint8Array | undefined,
  data: Uint8Array,
  out: number,
): void {
  if (palette === undefined || index * 3 + 2 >= palette.length) throw new Error(`decodePng: palette index ${index} is outside the palette`);
  data[out] = palette[index * 3] as number;
  data[out + 1] = palette[index * 3 + 1] as number;
  data[out + 2] = palette[index * 3 + 2] as number;
  data[out + 3] = alpha?.[index] ?? 255;
}
