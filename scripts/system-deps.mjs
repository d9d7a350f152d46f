/**
 * The Debian packages the test suite needs, how to tell whether they are present, and how to install
 * them. Used by scripts/test.mjs (and by .ci/run through it): as root it installs what is missing and
 * upgrades a chromium older than MIN_CHROMIUM, otherwise it prints the exact command to run. A chromium given in
 * $WEBDETR_CHROMIUM (launched by the browser suites instead) must report MIN_CHROMIUM or newer itself.
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

/** The version a chromium executable reports (`chromium --version`: "Chromium 156.0.8078.129 built on ..."), or null. */
export function binaryVersion(path) {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  const match = /(\d+(?:\.\d+){1,3})/.exec(result.stdout ?? '');
  return result.status === 0 && match ? match[1] : null;
}

/**
 * Why the chromium in $WEBDETR_CHROMIUM (which the browser suites launch instead of Debian's) cannot run them, or
 * null when it can: the Debian package's version says nothing about it, so its own `--version` is checked.
 */
export function customChromiumProblem(path, version) {
  if (version === null) return `$WEBDETR_CHROMIUM=${path} does not run (\`${path} --version\` failed)`;
  if (compareVersions(version, MIN_CHROMIUM) >= 0) return null;
  return (
    `$WEBDETR_CHROMIUM=${path} is chromium ${version}, older than ${MIN_CHROMIUM}, the oldest the browser suite ` +
    `passes on (older ones fail WebGPU error scopes). Point it to a newer build, or unset it to use Debian's ` +
    `(upgraded as root by:  ${installCommand(['chromium'])})`
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
export function ensureSystemPackages({ log = console.log, env = process.env } = {}) {
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
  const custom = env.WEBDETR_CHROMIUM;
  if (custom && custom !== CHROMIUM) {
    const version = binaryVersion(custom);
    const customProblem = customChromiumProblem(custom, version);
    if (customProblem) {
      log(`[deps] ${customProblem}`);
      return false;
    }
    log(`[deps] chromium ${version} from $WEBDETR_CHROMIUM (the oldest that passes: ${MIN_CHROMIUM})`);
    return true;
  }
  log(`[deps] chromium ${chromiumVersion()} (the oldest that passes: ${MIN_CHROMIUM})`);
  return true;
}
