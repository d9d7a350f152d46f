/**
 * The CLI's image decoding in Node (cli/node/decode-image.ts, cli/node/png.ts) against Pillow, which
 * the PyTorch reference and the held-out evaluation decode with: the same RGB bytes, exactly.
 * - PNG: every colour type and bit depth Pillow writes, plus Adam7 and 16-bit files written here
 *   (Pillow writes neither), against the pixels they were made from.
 * - JPEG: Pillow-encoded files (4:2:0, 4:4:4, greyscale) and one with EXIF orientation 6, which must
 *   come out rotated as Pillow's ImageOps.exif_transpose (and chromium's createImageBitmap) give it;
 *   and up to 12 photos of ../shared/data when it is there.
 * - Bad bytes: a typed InputError (code invalid-input) naming what is wrong.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createImageReader, decodeImage, readImageFile, sniffFormat } from '../../cli/node/decode-image.js';
import { decodePng } from '../../cli/node/png.js';
import { InputError } from '../../src/errors.js';

const work = mkdtempSync(join(tmpdir(), 'webdetr-decode-'));

/**
 * Pillow's RGB bytes of each file (exif_transpose first when asked), as the reference path decodes; a
 * file Pillow cannot decode comes back as a 0 x 0 image.
 */
function pillowRgb(paths: string[], transpose = false): Buffer[] {
  const script = [
    'import sys',
    'from PIL import Image, ImageOps',
    'for p in sys.argv[2:]:',
    '    try:',
    '        im = Image.open(p)',
    '        im = ImageOps.exif_transpose(im) if sys.argv[1] == "1" else im',
    '        rgb = im.convert("RGB")',
    '    except Exception:',
    '        sys.stdout.buffer.write(bytes(8))  # 0 x 0: Pillow could not decode it',
    '        continue',
    '    sys.stdout.buffer.write(rgb.width.to_bytes(4, "big") + rgb.height.to_bytes(4, "big") + rgb.tobytes())',
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', script, transpose ? '1' : '0', ...paths], { maxBuffer: 1 << 30 });
  const images: Buffer[] = [];
  for (let offset = 0; offset < out.length; ) {
    const size = 8 + out.readUInt32BE(offset) * out.readUInt32BE(offset + 4) * 3;
    images.push(out.subarray(offset, offset + size));
    offset += size;
  }
  return images;
}

/** max |RGBA (ours) - RGB (Pillow)| over the colour channels; sizes must agree. */
function maxDiff(ours: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }, pillow: Buffer): number {
  expect([ours.width, ours.height]).toEqual([pillow.readUInt32BE(0), pillow.readUInt32BE(4)]);
  let max = 0;
  for (let i = 0; i < ours.width * ours.height; i++) {
    for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs((ours.data[i * 4 + c] as number) - (pillow[8 + i * 3 + c] as number)));
  }
  return max;
}

function python(script: string): void {
  execFileSync('/usr/bin/python3', ['-c', script], { cwd: work });
}

const crc32 = (() => {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  return (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of bytes) c = (table[(c ^ b) & 255] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
})();

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/** A PNG of 8- or 16-bit RGB samples (`value(x, y, c)` in 0..255, written as v*257 for 16 bits), Adam7 or not. */
function encodePng(
  width: number,
  height: number,
  depth: 8 | 16,
  adam7: boolean,
  value: (x: number, y: number, c: number) => number,
): Buffer {
  const passes = adam7
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const rows: number[] = [];
  for (const [x0 = 0, y0 = 0, dx = 1, dy = 1] of passes) {
    for (let y = y0; y < height; y += dy) {
      if (x0 >= width) break;
      rows.push(0);
      for (let x = x0; x < width; x += dx) {
        for (let c = 0; c < 3; c++) {
          const v = value(x, y, c);
          if (depth === 16) rows.push(v, (v * 7) & 255);
          else rows.push(v);
        }
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = depth;
  header[9] = 2;
  header[12] = adam7 ? 1 : 0;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('PNG in Node equals Pillow', () => {
  it('every colour type and bit depth Pillow writes: RGB, RGBA, L, LA, P (8 and 2 bits), 1-bit', () => {
    python(
      [
        'import numpy as np',
        'from PIL import Image',
        'rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8))',
        'rgb.save("rgb.png"); rgb.convert("RGBA").save("rgba.png"); rgb.convert("L").save("l.png"); rgb.convert("LA").save("la.png")',
        'rgb.convert("P", palette=Image.ADAPTIVE, colors=200).save("p.png"); rgb.convert("P", palette=Image.ADAPTIVE, colors=4).save("p2.png", bits=2)',
        'rgb.convert("1").save("one.png")',
      ].join('\n'),
    );
    const files = ['rgb', 'rgba', 'l', 'la', 'p', 'p2', 'one'].map((name) => join(work, `${name}.png`));
    const pillow = pillowRgb(files);
    files.forEach((file, k) => expect(maxDiff(decodePng(readFileSync(file)), pillow[k] as Buffer), file).toBe(0));
  });

  it('Adam7-interlaced and 16-bit files: the pixels they were made from (16 bits: the high byte)', () => {
    const value = (x: number, y: number, c: number) => (x * 37 + y * 11 + c * 91) & 255;
    for (const [depth, adam7] of [
      [8, true],
      [16, false],
      [16, true],
    ] as const) {
      for (const [width, height] of [
        [13, 9],
        [1, 1],
        [3, 17],
      ] as const) {
        const image = decodePng(encodePng(width, height, depth, adam7, value));
        let max = 0;
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++)
            for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs((image.data[(y * width + x) * 4 + c] as number) - value(x, y, c)));
        expect(max, `${width}x${height} depth ${depth} adam7 ${adam7}`).toBe(0);
        expect(image.data[3]).toBe(255);
      }
    }
  });
});

describe('JPEG in Node equals Pillow (libjpeg-turbo)', () => {
  it('colour 4:2:0 and 4:4:4, greyscale, progressive: max |difference| 0', async () => {
    python(
      [
        'import numpy as np',
        'from PIL import Image, ImageFilter',
        'rng = np.random.default_rng(1)',
        'a = Image.fromarray(rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(1.5))',
        'a.save("c420.jpg", quality=85); a.save("c444.jpg", quality=95, subsampling=0); a.convert("L").save("grey.jpg", quality=80)',
        'a.save("prog.jpg", quality=90, progressive=True)',
      ].join('\n'),
    );
    const files = ['c420', 'c444', 'grey', 'prog'].map((name) => join(work, `${name}.jpg`));
    const pillow = pillowRgb(files);
    for (const [k, file] of files.entries()) expect(maxDiff(await decodeImage(readFileSync(file)), pillow[k] as Buffer), file).toBe(0);
    // A batch's reader decodes on a worker thread, several at once: the same bytes, each to its own file.
    const reader = createImageReader();
    try {
      const decoded = await Promise.all(files.map((file) => reader.read(file)));
      decoded.forEach((image, k) => expect(maxDiff(image, pillow[k] as Buffer), `worker ${files[k]}`).toBe(0));
      await expect(reader.read(join(work, 'c420.jpg.missing'))).rejects.toMatchObject({ code: 'image-read' });
    } finally {
      await reader.close();
    }
  });

  it('EXIF orientation 6 is applied, as exif_transpose and chromium do: 83x61 stored, 61x83 decoded', async () => {
    python(
      [
        'import numpy as np',
        'from PIL import Image',
        'a = Image.fromarray(np.random.default_rng(2).integers(0, 256, (61, 83, 3), dtype=np.uint8))',
        'exif = Image.Exif(); exif[0x0112] = 6',
        'a.save("rot6.jpg", quality=90, exif=exif.tobytes())',
      ].join('\n'),
    );
    const file = join(work, 'rot6.jpg');
    const [upright] = pillowRgb([file], true);
    const image = await readImageFile(file);
    expect([image.width, image.height]).toEqual([61, 83]);
    expect(maxDiff(image, upright as Buffer)).toBe(0);
  });

  it('photos of ../shared/data (when present): max |difference| 0', async (context) => {
    const dirs = ['../shared/data/coco128/images', '../shared/data/raccoon/images'].filter((dir) => existsSync(dir));
    if (dirs.length === 0) context.skip();
    const files = dirs.flatMap((dir) =>
      readdirSync(dir)
        .sort()
        .slice(0, 6)
        .map((name) => join(dir, name)),
    );
    const pillow = pillowRgb(files);
    // The shared data may hold a damaged photo (its README says so); the reference path skips those
    // with a warning, so they are no reference to compare against here.
    const decodable = files.filter((_, k) => (pillow[k] as Buffer).readUInt32BE(0) > 0);
    for (const file of files.filter((f) => !decodable.includes(f))) console.warn(`Pillow cannot decode ${file}; left out`);
    expect(decodable.length, 'photos Pillow decodes').toBeGreaterThan(0);
    for (const [k, file] of files.entries()) {
      if (decodable.includes(file)) expect(maxDiff(await readImageFile(file), pillow[k] as Buffer), file).toBe(0);
    }
  });
});

describe('bad image files are typed errors', () => {
  it('undecodable JPEG and PNG bytes, other formats and missing files say what is wrong', async () => {
    const jpegHeaderOnly = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0]);
    await expect(decodeImage(jpegHeaderOnly)).rejects.toThrow(InputError);
    await expect(decodeImage(jpegHeaderOnly)).rejects.toThrow(/could not decode the JPEG/);
    // The decoder still works after a failure (libjpeg's error exit ends its emscripten program).
    python('from PIL import Image\nImage.new("RGB", (5, 3), (200, 10, 60)).save("after.jpg", quality=95, subsampling=0)');
    const after = await readImageFile(join(work, 'after.jpg'));
    expect([after.width, after.height]).toEqual([5, 3]);
    expect(maxDiff(after, pillowRgb([join(work, 'after.jpg')])[0] as Buffer)).toBe(0);
    const png = encodePng(4, 4, 8, false, () => 1);
    await expect(decodeImage(png.subarray(0, png.length - 30))).rejects.toThrow(/could not decode the PNG/);
    await expect(decodeImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).rejects.toThrow(
      /a WEBP file: the WASM path in Node decodes JPEG and PNG; .*--backend webgpu/,
    );
    await expect(decodeImage(Buffer.from('hello'))).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringMatching(/not a JPEG or PNG file/),
    });
    await expect(readImageFile(join(work, 'missing.jpg'))).rejects.toMatchObject({
      code: 'image-read',
      message: expect.stringMatching(/no such file/),
    });
    expect(sniffFormat(png)).toBe('png');
  });
});
