import { describe, expect, it } from 'vitest';
import { parseCliArgs, parsePatch, parsePatchesFile, UsageError, type DetectArgs } from '../../cli/args.mjs';

const detect = (...argv: string[]) => parseCliArgs(argv) as DetectArgs;
const usage = (...argv: string[]) => expect(() => parseCliArgs(argv)).toThrow(UsageError);

describe('webdetr CLI arguments', () => {
  it('defaults', () => {
    const args = detect('detect', 'a.png', '--model', 'pkg/');
    expect(args).toMatchObject({
      help: false,
      command: 'detect',
      images: ['a.png'],
      model: 'pkg/',
      patches: [],
      maxDetections: 100,
      backend: 'auto',
      json: false,
      raw: false,
      port: 0,
      timeoutMs: 1_800_000,
    });
    // No --threshold: the page leaves it to the model's suggested score (manifest output.scoreThreshold).
    expect(args.threshold).toBeUndefined();
    // No --no-zoom: the package's default (zoomed search when it has one).
    expect(args.zoom).toBeUndefined();
  });

  it("--no-zoom turns the package's zoomed search off", () => {
    expect(detect('detect', 'a.png', '--model', 'm', '--no-zoom').zoom).toBe(false);
  });

  it('several images, repeated patches as corner rectangles, every option', () => {
    const args = detect(
      'detect',
      'a.png',
      'b.jpg',
      '--model=http://host/m/',
      '--patch',
      '10,20,110,70',
      '--patch',
      '0, 0, 5.5, 4',
      '--threshold',
      '0.25',
      '--max-detections',
      '7',
      '--backend',
      'wasm',
      '--json',
      '--port',
      '5193',
      '--timeout',
      '60',
    );
    expect(args.images).toEqual(['a.png', 'b.jpg']);
    expect(args.model).toBe('http://host/m/');
    expect(args.patches).toEqual([
      { x: 10, y: 20, width: 100, height: 50 },
      { x: 0, y: 0, width: 5.5, height: 4 },
    ]);
    expect(args).toMatchObject({
      threshold: 0.25,
      maxDetections: 7,
      backend: 'wasm',
      json: true,
      raw: false,
      port: 5193,
      timeoutMs: 60_000,
    });
  });

  it('--raw implies --json; options may come before the image', () => {
    const args = detect('detect', '--raw', '--model', 'm', 'x.png');
    expect(args).toMatchObject({ raw: true, json: true, images: ['x.png'] });
  });

  it('--help / -h wins over everything else', () => {
    expect(parseCliArgs(['--help'])).toEqual({ help: true });
    expect(parseCliArgs(['detect', '-h', '--threshold', 'nope'])).toEqual({ help: true });
  });

  it('rejects a missing or unknown command, no image, no model', () => {
    usage();
    usage('detetc', 'a.png', '--model', 'm');
    usage('detect', '--model', 'm');
    usage('detect', 'a.png');
    usage('detect', 'a.png', '--model', '');
  });

  it('rejects unknown options and options without values', () => {
    usage('detect', 'a.png', '--model', 'm', '--fast');
    usage('detect', 'a.png', '--model');
    usage('detect', 'a.png', '--model', 'm', '--json=yes');
  });

  it('rejects bad numbers', () => {
    for (const bad of [
      ['--threshold', 'high'],
      ['--threshold', '1.5'],
      ['--threshold', '-0.1'],
      ['--threshold', ''],
      ['--max-detections', '0'],
      ['--max-detections', '2.5'],
      ['--port', '70000'],
      ['--port', '-1'],
      ['--timeout', '0'],
      ['--backend', 'cuda'],
    ]) {
      expect(() => parseCliArgs(['detect', 'a.png', '--model', 'm', `${bad[0]}=${bad[1]}`]), bad.join(' ')).toThrow(UsageError);
    }
  });

  it('rejects malformed or empty patches with a message naming the patch', () => {
    for (const bad of ['1,2,3', '1,2,3,4,5', 'a,b,c,d', '1,,3,4', '10,10,5,20', '10,10,20,10', '-1,0,5,5']) {
      expect(() => parsePatch(bad), bad).toThrow(UsageError);
    }
    expect(() => parsePatch('10,10,5,20')).toThrow(/x1 must be greater than x0/);
  });

  it('reads the chromium path from the option, else $WEBDETR_CHROMIUM, else /usr/bin/chromium', () => {
    expect(detect('detect', 'a.png', '--model', 'm', '--chromium', '/opt/c').chromium).toBe('/opt/c');
    const saved = process.env.WEBDETR_CHROMIUM;
    try {
      delete process.env.WEBDETR_CHROMIUM;
      expect(detect('detect', 'a.png', '--model', 'm').chromium).toBe('/usr/bin/chromium');
      process.env.WEBDETR_CHROMIUM = '/env/chromium';
      expect(detect('detect', 'a.png', '--model', 'm').chromium).toBe('/env/chromium');
    } finally {
      if (saved === undefined) delete process.env.WEBDETR_CHROMIUM;
      else process.env.WEBDETR_CHROMIUM = saved;
    }
  });

  it('--patches-file: per-image patches in image order; every image needs an entry; not with --patch', () => {
    expect(detect('detect', 'a.png', '--model', 'm', '--patches-file', 'p.json').patchesFile).toBe('p.json');
    expect(() => parseCliArgs(['detect', 'a.png', '--model', 'm', '--patches-file', 'p.json', '--patch', '0,0,5,5'])).toThrow(/not both/);
    const text = JSON.stringify({
      'b.png': [[1, 2, 11, 22]],
      'a.png': [
        [0, 0, 5, 5],
        [2, 2, 4, 6],
      ],
    });
    expect(parsePatchesFile(text, ['a.png', 'b.png'])).toEqual([
      [
        { x: 0, y: 0, width: 5, height: 5 },
        { x: 2, y: 2, width: 2, height: 4 },
      ],
      [{ x: 1, y: 2, width: 10, height: 20 }],
    ]);
    expect(() => parsePatchesFile(text, ['a.png', 'c.png'])).toThrow(/no patches for c\.png/);
    expect(() => parsePatchesFile('[1]', ['a.png'])).toThrow(UsageError);
    expect(() => parsePatchesFile('{', ['a.png'])).toThrow(/not JSON/);
    expect(() => parsePatchesFile(JSON.stringify({ 'a.png': [[5, 5, 1, 1]] }), ['a.png'])).toThrow(/x1 must be greater/);
  });
});
