import { describe, expect, it } from 'vitest';
import { chromiumProblem, chromiumVersion, compareVersions, MIN_CHROMIUM } from '../../scripts/system-deps.mjs';

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
});
