/**
 * The published package: `npm run build:lib` produces every file package.json's exports map names,
 * and the built ESM entries load in Node with the documented API.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

interface ExportTarget {
  types: string;
  import: string;
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  name: string;
  type: string;
  exports: Record<string, ExportTarget | string>;
};

beforeAll(() => {
  execFileSync('npm', ['run', '--silent', 'build:lib'], { stdio: 'pipe' });
}, 120_000);

describe('package exports', () => {
  it('is the ESM package "webdetr"', () => {
    expect(pkg.name).toBe('webdetr');
    expect(pkg.type).toBe('module');
  });

  it.each(Object.entries(pkg.exports).filter(([key]) => key !== './package.json'))('%s resolves to built files', (_key, target) => {
    const { types, import: entry } = target as ExportTarget;
    expect(existsSync(types), types).toBe(true);
    expect(existsSync(entry), entry).toBe(true);
  });

  it('the main entry exports the typed errors, manifest validation and post-processing', async () => {
    const lib = (await import(pathToFileURL('dist/lib/index.js').href)) as Record<string, unknown>;
    expect(typeof lib.parseManifest).toBe('function');
    expect(typeof lib.fetchVerified).toBe('function');
    expect(typeof lib.postprocessSigmoidTopK).toBe('function');
    const InputErrorClass = lib.InputError as new (message: string) => Error & { code: string };
    expect(new InputErrorClass('x').code).toBe('invalid-input');
    expect(() => (lib.parseManifest as (json: unknown) => unknown)({ format: 'webdetr-model/999' })).toThrow(/manifest/);
  });

  it('the kernels entry exports the WGSL kernel factories with their shader source inlined', async () => {
    const kernels = (await import(pathToFileURL('dist/lib/kernels.js').href)) as Record<string, unknown>;
    for (const name of ['createMsDeformAttn', 'createBilinearResizeNormalize', 'createBilinearCropResize', 'msDeformAttnFusedReference']) {
      expect(typeof kernels[name], name).toBe('function');
    }
    // The WGSL lives in the chunks kernels.js imports (shared with the worker entry, dist/lib/worker.js).
    const entry = readFileSync('dist/lib/kernels.js', 'utf8');
    const chunks = [...entry.matchAll(/from ['"]\.\/([^'"]+\.js)['"]/g)].map((m) => readFileSync(`dist/lib/${m[1]}`, 'utf8'));
    expect([entry, ...chunks].join('\n')).toContain('@compute');
  });
});
