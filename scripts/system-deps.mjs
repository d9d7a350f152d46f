/**
 * The Debian packages the test suite needs, how to tell whether they are present, and how to install
 * them. Used by scripts/test.mjs (and by .ci/run through it): as root it installs what is missing and
 * upgrades a chromium older than MIN_CHROMIUM, otherwise it prints the exact command to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const SYSTEM_PACKAGES = [
  'chromium',
  'mesa-vulkan-drivers',
  'python3-torch',
  'python3-torchvision',
  'python3-onnx',
  'python3-numpy',
  'python3-pil',
  'python3-scipy',
  'python3-skimage',
  'python3-pytest',
  'python3-jsonschema',
  // npm run lint's Python checks over tools/ (config: setup.cfg, pyproject.toml)
  'flake8',
  'black',
  // wasm/*.c -> the committed CPU kernels (npm run build:wasm); the tests rebuild them to check the source.
  'clang',
  'lld',
];

/**
 * The oldest Debian chromium the browser suite passes on: with 150.0.7871.100 WebGPU error scopes fail
 * ("OperationError: Instance dropped in popErrorScope" in e2e/kernels-bilinear.spec.ts); 156.0.8078.129 passes.
 * Versions in between were not tried, so this is the oldest one known to pass.
 */
export const MIN_CHROMIUM = '156.0.8078.129';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM = '/usr/bin/chromium';
export const PYTHON = '/usr/bin/python3';

function isInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

export function missingPackages() {
  return SYSTEM_PACKAGES.filter((pkg) => !isInstalled(pkg));
}

export function installCommand(packages) {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/** Compares dotted version numbers ("156.0.8078.129"; a Debian revision after "-" is ignored): <0, 0 or >0. */
export function compareVersions(a, b) {
  const parts = (v) =>
    v
      .split('-')[0]
      .split('.')
      .map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The installed Debian chromium's version (e.g. "156.0.8078.129-1~deb12u1"), or null when it is not installed. */
export function chromiumVersion() {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const result = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'chromium'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() ? result.stdout.trim() : null;
}

/** Why this chromium cannot run the browser suite (with the command that upgrades it), or null when it can. */
export function chromiumProblem(version) {
  if (version === null || compareVersions(version, MIN_CHROMIUM) >= 0) return null;
  return (
    `Debian chromium ${version} is older than ${MIN_CHROMIUM}, the oldest the browser suite passes on ` +
    `(older ones fail WebGPU error scopes). Upgrade it as root:  ${installCommand(['chromium'])}`
  );
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
}

/**
 * Installs missing packages, and upgrades a chromium older than MIN_CHROMIUM, when running as root; returns
 * false (after explaining, with the apt command) when that is not possible.
 */
export function ensureSystemPackages({ log = console.log } = {}) {
  const missing = missingPackages();
  const tooOld = chromiumProblem(chromiumVersion()) ? ['chromium'] : [];
  if (missing.length > 0 || tooOld.length > 0) {
    if (!isRoot()) {
      if (missing.length > 0) log(`[deps] missing Debian packages: ${missing.join(' ')}`);
      if (tooOld.length > 0) log(`[deps] ${chromiumProblem(chromiumVersion())}`);
      log(`[deps] run as root:  ${installCommand([...missing, ...tooOld])}`);
      return false;
    }
    log(`[deps] installing Debian packages: ${[...missing, ...tooOld].join(' ')}`);
    aptInstall([...missing, ...tooOld]);
  }
  // Checked again after installing: the package lists may still offer an old chromium only.
  const problem = chromiumProblem(chromiumVersion());
  if (problem) {
    log(`[deps] ${problem}`);
    return false;
  }
  const absent = [CHROMIUM, SWIFTSHADER_ICD].filter((path) => !existsSync(path));
  if (absent.length > 0) {
    log(`[deps] missing after installing: ${absent.join(', ')}`);
    return false;
  }
  log(`[deps] chromium ${chromiumVersion()} (the oldest that passes: ${MIN_CHROMIUM})`);
  return true;
}
