/**
 * The package as a user gets it: `npm pack` (its `prepack` builds dist/) in a staging copy of the
 * checkout, then a throwaway project outside the repository that installs the tarball with npm from
 * the local cache only. Staged, not packed in place: `prepack` empties dist/lib, dist/embed, ...,
 * which the browser suite (running beside this one under npm test) builds and serves meanwhile.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

/** What the package's build reads: the sources and the build configs (not tests, tools, models). */
const STAGED = [
  'package.json',
  'README.md',
  'bin',
  'cli',
  'src',
  'shaders',
  'schemas',
  'public/isolation-sw.js',
  'scripts/build-package.mjs',
  'scripts/ort-wasm-external.mjs',
  'vite.lib.config.ts',
  'vite.embed.config.ts',
  'vite.cli.config.ts',
  'tsconfig.json',
  'tsconfig.build.json',
];

/** The budget the issue set for the code package's tarball (models and dependencies apart). */
export const TARBALL_BUDGET = 1024 * 1024;

export interface PackedFile {
  path: string;
  size: number;
}

export interface Packed {
  tarball: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

/** npm's `--json` answer: the array after whatever the lifecycle scripts printed. */
function npmJson<T>(stdout: string): T {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`no JSON in npm's output:\n${stdout}`);
  return JSON.parse(stdout.slice(start)) as T;
}

/** `npm pack` of the working tree (tracked and new files, not ignored ones) into `out`. */
export function packCheckout(work: string): Packed {
  const stage = join(work, 'stage');
  mkdirSync(stage, { recursive: true });
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...STAGED], {
    cwd: REPO,
    encoding: 'utf8',
  });
  for (const file of listed.split('\0').filter(Boolean)) {
    // A tracked file deleted in the working tree is not part of what would be packed.
    if (!statSync(join(REPO, file), { throwIfNoEntry: false })?.isFile()) continue;
    mkdirSync(dirname(join(stage, file)), { recursive: true });
    cpSync(join(REPO, file), join(stage, file));
  }
  symlinkSync(join(REPO, 'node_modules'), join(stage, 'node_modules'));
  const stdout = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: stage,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [packed] = npmJson<{ filename: string; size: number; unpackedSize: number; files: PackedFile[] }[]>(stdout);
  if (packed === undefined) throw new Error('npm pack packed nothing');
  return { tarball: join(work, packed.filename), size: packed.size, unpackedSize: packed.unpackedSize, files: packed.files };
}

/** `npm pack --dry-run` of another folder (the models package): what it would ship. */
export function packDryRun(dir: string): Omit<Packed, 'tarball'> {
  const stdout = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [packed] = npmJson<{ size: number; unpackedSize: number; files: PackedFile[] }[]>(stdout);
  if (packed === undefined) throw new Error(`npm pack --dry-run in ${dir} packed nothing`);
  return packed;
}

export interface Installed {
  project: string;
  /** How npm got the dependencies: 'offline' (the local cache only) or 'prefer-offline' (cache misses from the registry). */
  mode: 'offline' | 'prefer-offline';
  seconds: number;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [key: string]: unknown;
}

/**
 * The lockfile entries of webdetr's dependencies, copied from the checkout's package-lock.json (Node's
 * lookup: nested node_modules first, then up to the top). With a lockfile npm needs only the packages'
 * tarballs, which `npm install` in the checkout left in npm's cache; without one it would ask the
 * registry for each package's version list even with --offline.
 */
function dependencyEntries(): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const entries: Record<string, LockEntry> = {};
  const visit = (name: string, from: string): void => {
    let key: string | undefined;
    for (let base = from; key === undefined; ) {
      const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (lock.packages[candidate] !== undefined) key = candidate;
      else if (base === '') throw new Error(`package-lock.json has no ${name} (needed by ${from || 'webdetr'})`);
      else base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '';
    }
    if (entries[key] !== undefined) return;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[key]!;
    entries[key] = entry;
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(dep, key);
  };
  for (const dep of Object.keys(pkg.dependencies)) visit(dep, '');
  return entries;
}

/**
 * A throwaway project in the system's temp folder (outside the repository, so nothing resolves from
 * the repository's node_modules) that installs the tarball as the README says (`npm install webdetr`,
 * the tarball in place of the registry's name), offline: the dependencies at the checkout's locked
 * versions from npm's cache. A cache without them (a checkout installed long ago, the cache cleaned
 * since) falls back to the registry.
 */
export function installInProject(tarball: string, packed: { version: string; dependencies: Record<string, string> }): Installed {
  const project = mkdtempSync(join(tmpdir(), 'webdetr-consumer-'));
  const spec = `file:${tarball}`;
  const manifest = { name: 'webdetr-consumer', private: true, type: 'module', dependencies: { webdetr: spec } };
  const lock = {
    name: manifest.name,
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: manifest.name, dependencies: manifest.dependencies },
      'node_modules/webdetr': {
        version: packed.version,
        resolved: spec,
        dependencies: packed.dependencies,
        bin: { webdetr: 'bin/webdetr.mjs' },
      },
      ...dependencyEntries(),
    },
  };
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  const started = Date.now();
  for (const mode of ['offline', 'prefer-offline'] as const) {
    const run = spawnSync('npm', ['install', `--${mode}`, '--no-audit', '--no-fund'], { cwd: project, encoding: 'utf8' });
    if (run.status === 0) return { project, mode, seconds: (Date.now() - started) / 1000 };
    if (mode === 'prefer-offline' || !/ENOTCACHED/.test(run.stderr)) throw new Error(`npm install --${mode} failed:\n${run.stderr}`);
  }
  throw new Error('unreachable');
}

/** Bytes of every file under `dir` (what the install puts on disk, apparent sizes). */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}
