/**
 * npm (11.x) warns on every fresh `npm install` about dependencies whose install scripts no
 * `allowScripts` entry covers. Ours are decided in package.json: both are denied because neither does
 * anything we need (read in node_modules):
 * - webgpu's postinstall only removes macOS's quarantine attribute from its darwin dawn.node (npm's
 *   own extraction never sets that attribute; on Linux and Windows the script does nothing);
 * - protobufjs's postinstall only warns when the *root* package depends on protobufjs with a version
 *   range other than `~` (we do not depend on it; onnxruntime-web does).
 * This test fails when a dependency update brings an install script nobody has decided on.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

function installedPackages(root: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(root)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) for (const sub of readdirSync(join(root, entry))) names.push(`${entry}/${sub}`);
    else names.push(entry);
  }
  return names;
}

describe('npm install scripts', () => {
  it('every dependency with an install script is covered by package.json allowScripts', () => {
    const project = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts?: Record<string, boolean> };
    const policy = project.allowScripts ?? {};
    const withScripts = installedPackages('node_modules').filter((name) => {
      const file = join('node_modules', name, 'package.json');
      if (!existsSync(file)) return false;
      const scripts = (JSON.parse(readFileSync(file, 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
      return INSTALL_SCRIPTS.some((s) => scripts[s] !== undefined);
    });
    expect(withScripts.filter((name) => !(name in policy))).toEqual([]);
    expect(policy).toMatchObject({ webgpu: false, protobufjs: false });
  });

  it('the denied scripts are the no-ops we read: webgpu touches only macOS, protobufjs only warns about the root package', () => {
    const webgpu = readFileSync('node_modules/webgpu/build/postinstall.js', 'utf8');
    expect(webgpu).toMatch(/if \(isMac\)/);
    expect(webgpu).toMatch(/com\.apple\.quarantine/);
    const protobufjs = readFileSync('node_modules/protobufjs/scripts/postinstall.js', 'utf8');
    expect(protobufjs).toMatch(/versionScheme/);
    expect(protobufjs).not.toMatch(/writeFile|execSync|spawn/);
    // The Node WebGPU binding is usable without its script: the binary ships in the package.
    expect(existsSync(`node_modules/webgpu/dist/${process.platform}-${process.arch}/dawn.node`)).toBe(true);
  });
});
