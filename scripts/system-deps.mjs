/**
 * The Debian packages the test suite needs, how to tell whether they are present, and how to install
 * them. Used by scripts/test.mjs (and by .ci/run through it): as root it installs what is missing,
 * otherwise it prints the exact command to run.
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
];

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM = '/usr/bin/chromium';
export const PYTHON = '/usr/bin/python3';

function isInstalled(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

export function missingPackages() {
  return SYSTEM_PACKAGES.filter((pkg) => !isInstalled(pkg));
}

export function installCommand(packages) {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/** Installs missing packages when running as root; returns false (after explaining) otherwise. */
export function ensureSystemPackages({ log = console.log } = {}) {
  const missing = missingPackages();
  if (missing.length === 0 && existsSync(CHROMIUM) && existsSync(SWIFTSHADER_ICD)) return true;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    log(`[deps] installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
    return true;
  }
  log(`[deps] missing Debian packages: ${missing.join(' ')}`);
  log(`[deps] run as root:  ${installCommand(missing)}`);
  return false;
}
