/**
 * Argument parsing for `webdetr detect ...` (node:util parseArgs, strict). Pure: no I/O, so the
 * vitest suite covers every rule. Bad arguments throw UsageError (exit status 2).
 */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: webdetr detect <image...> --model <dir|url> [options]

Runs a webdetr model package on images and prints the detections, each image as it finishes. The
model is loaded once per call. WASM (the default here) runs in this Node process, without a
browser; --backend webgpu runs the same engine in headless chromium.

Arguments:
  <image...>               image files: JPEG and PNG (with --backend webgpu, anything chromium
                           decodes); a file that cannot be read is reported and the rest go on

Options:
  --model <dir|url>        model package: a directory with manifest.json, a manifest.json path,
                           or an http(s) URL of either (must allow CORS for --backend webgpu)
  --patch x0,y0,x1,y1      one-shot query patch, a rectangle in image pixels (repeatable;
                           one-shot packages); prints the detections per patch
  --patches-file <json>    per-image query patches: {"<image as given>": [[x0,y0,x1,y1], ...]};
                           every image needs an entry; more patches than the model takes at
                           once run in chunks on the image's one encoding
  --threshold <t>          minimum score, 0..1 (default: the model's suggested score, else 0.5)
  --max-detections <n>     at most n detections per image or patch (default 100)
  --no-zoom                one-shot: search the whole image only, without the package's zoomed
                           search of small patches (manifest input.queryPatch.zoom)
  --backend <b>            auto | wasm (in Node; auto is WASM, as Node has no WebGPU) |
                           webgpu (in headless chromium) (default auto)
  --json                   print one JSON document at the end instead of a table
  --jsonl                  print one JSON object per image, as each finishes (JSON lines)
  --raw                    also return the model's raw per-query logits and boxes (implies
                           --json unless --jsonl is given)
  --port <n>               --backend webgpu: port of the local page server (default: any free port)
  --chromium <path>        --backend webgpu: chromium executable (default $WEBDETR_CHROMIUM or
                           /usr/bin/chromium)
  --timeout <seconds>      give up after this long (default 1800)
  -h, --help               show this help

Boxes are in image pixels, clamped to the picture. Progress goes to stderr (a live line on a
terminal). Exit status: 0 every image done, 1 the model or any image failed (each failure is
reported with its error code), 2 bad arguments or no readable image.`;

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

const BACKENDS = ['auto', 'webgpu', 'wasm'];

/**
 * @param {readonly string[]} argv arguments after the program name
 * @returns {import('./args.d.mts').CliArgs}
 */
export function parseCliArgs(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        patch: { type: 'string', multiple: true },
        'patches-file': { type: 'string' },
        threshold: { type: 'string' },
        'max-detections': { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
        jsonl: { type: 'boolean' },
        raw: { type: 'boolean' },
        'no-zoom': { type: 'boolean' },
        port: { type: 'string' },
        chromium: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [command, ...images] = positionals;
  if (command === undefined) throw new UsageError('missing command: webdetr detect <image...> --model <dir|url>');
  if (command !== 'detect') throw new UsageError(`unknown command ${JSON.stringify(command)} (the command is: detect)`);
  if (images.length === 0) throw new UsageError('no image given: webdetr detect <image...> --model <dir|url>');
  if (values.model === undefined || values.model === '') throw new UsageError('--model <dir|url> is required');
  if (values['patches-file'] !== undefined && values.patch !== undefined) throw new UsageError('give --patch or --patches-file, not both');
  if (values.json && values.jsonl) throw new UsageError('give --json or --jsonl, not both');
  const backend = values.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, not ${JSON.stringify(backend)}`);
  const threshold = values.threshold === undefined ? undefined : number('--threshold', values.threshold);
  if (threshold !== undefined && (threshold < 0 || threshold > 1))
    throw new UsageError(`--threshold must be within 0..1, not ${values.threshold}`);
  const maxDetections = values['max-detections'] === undefined ? 100 : integer('--max-detections', values['max-detections'], 1);
  const port = values.port === undefined ? 0 : integer('--port', values.port, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, not ${port}`);
  const timeoutSeconds = values.timeout === undefined ? 1800 : number('--timeout', values.timeout);
  if (!(timeoutSeconds > 0)) throw new UsageError(`--timeout must be positive, not ${values.timeout}`);
  return {
    help: false,
    command,
    images,
    model: values.model,
    patches: (values.patch ?? []).map(parsePatch),
    ...(values['patches-file'] === undefined ? {} : { patchesFile: values['patches-file'] }),
    ...(threshold === undefined ? {} : { threshold }),
    maxDetections,
    ...(values['no-zoom'] ? { zoom: false } : {}),
    backend,
    raw: values.raw ?? false,
    jsonl: values.jsonl ?? false,
    json: (values.json ?? false) || ((values.raw ?? false) && !values.jsonl),
    port,
    chromium: values.chromium ?? process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
    timeoutMs: timeoutSeconds * 1000,
  };
}

/** "x0,y0,x1,y1" (corners, image pixels) → { x, y, width, height }. */
export function parsePatch(text) {
  const parts = text.split(',').map((part) => part.trim());
  const corners = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || corners.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`--patch needs four numbers x0,y0,x1,y1, not ${JSON.stringify(text)}`);
  }
  const [x0, y0, x1, y1] = /** @type {[number, number, number, number]} */ (corners);
  if (x0 < 0 || y0 < 0) throw new UsageError(`--patch ${text}: the corner x0,y0 must not be negative`);
  if (!(x1 > x0 && y1 > y0)) throw new UsageError(`--patch ${text}: x1 must be greater than x0 and y1 greater than y0`);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * --patches-file contents → per image (in `images` order) its patches.
 * @param {string} text
 * @param {readonly string[]} images
 */
export function parsePatchesFile(text, images) {
  let table;
  try {
    table = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--patches-file is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (table === null || typeof table !== 'object' || Array.isArray(table)) {
    throw new UsageError('--patches-file must be a JSON object {"<image>": [[x0, y0, x1, y1], ...]}');
  }
  return images.map((image) => {
    const rects = table[image];
    if (!Array.isArray(rects) || rects.length === 0) throw new UsageError(`--patches-file has no patches for ${image}`);
    return rects.map((rect) => parsePatch(Array.isArray(rect) ? rect.join(',') : String(rect)));
  });
}

function number(flag, text) {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} needs a number, not ${JSON.stringify(text)}`);
  return value;
}

function integer(flag, text, min) {
  const value = number(flag, text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${flag} needs an integer >= ${min}, not ${JSON.stringify(text)}`);
  return value;
}
