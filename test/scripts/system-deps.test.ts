import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  binaryVersion,
  CHROMIUM,
  chromiumProblem,
  chromiumVersion,
  compareVersions,
  customChromiumProblem,
  ensureSystemPackages,
  MIN_CHROMIUM,
  missingPackages,
} from '../../scripts/system-deps.mjs';

/** A stand-in chromium executable that prints `line` for --version. */
function fakeChromium(dir: string, name: string, line: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${line}'\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('npm test: the chromium version check', () => {
  it('compares Debian chromium versions numerically, ignoring the Debian revision', () => {
    expect(compareVersions('156.0.8078.129-1~deb12u1', '156.0.8078.129')).toBe(0);
    expect(compareVersions('150.0.7871.100', '156.0.8078.129')).toBeLessThan(0);
    expect(compareVersions('156.0.10000.1', '156.0.8078.129')).toBeGreaterThan(0); // not a string comparison
    expect(compareVersions('157', '156.0.8078.129')).toBeGreaterThan(0);
  });

  it('refuses the chromium the browser suite failed on, naming the apt command that upgrades it', () => {
    const problem = chromiumProblem('150.0.7871.100-1~deb12u1');
    expect(problem).toContain(`older than ${MIN_CHROMIUM}`);
    expect(problem).toContain('apt-get update && apt-get install -y --no-install-recommends chromium');
    expect(chromiumProblem('156.0.8078.129-1~deb12u1')).toBeNull();
    expect(chromiumProblem(null)).toBeNull(); // not installed: the missing-package path reports it
  });

  it('the installed chromium is new enough (npm test installed or upgraded it)', () => {
    const version = chromiumVersion();
    expect(version).not.toBeNull();
    expect(chromiumProblem(version)).toBeNull();
  });

  it('a chromium in $WEBDETR_CHROMIUM (what the browser suites launch then) is checked by its own --version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webdetr-chromium-'));
    try {
      const old = fakeChromium(dir, 'old', 'Chromium 150.0.7871.100 built on Debian GNU/Linux 12 (bookworm)');
      const fresh = fakeChromium(dir, 'new', 'Chromium 156.0.8078.129 built on Debian GNU/Linux 12 (bookworm)');
      expect(binaryVersion(old)).toBe('150.0.7871.100');
      expect(customChromiumProblem(old, binaryVersion(old))).toContain(`older than ${MIN_CHROMIUM}`);
      expect(customChromiumProblem(fresh, binaryVersion(fresh))).toBeNull();
      expect(binaryVersion(join(dir, 'absent'))).toBeNull();
      expect(customChromiumProblem(join(dir, 'absent'), null)).toContain('does not run');
      // npm test's own check, before any suite starts; only where it has nothing to install (as root it would run apt)
      if (missingPackages().length > 0 || chromiumProblem(chromiumVersion())) return;
      const lines: string[] = [];
      expect(ensureSystemPackages({ log: (line) => lines.push(line), env: { WEBDETR_CHROMIUM: old } })).toBe(false);
      expect(lines.join('\n')).toContain(`$WEBDETR_CHROMIUM=${old} is chromium 150.0.7871.100, older than ${MIN_CHROMIUM}`);
      expect(ensureSystemPackages({ log: () => {}, env: { WEBDETR_CHROMIUM: fresh } })).toBe(true);
      expect(ensureSystemPackages({ log: () => {}, env: { WEBDETR_CHROMIUM: CHROMIUM } })).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
