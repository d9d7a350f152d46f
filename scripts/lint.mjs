#!/usr/bin/env node
/**
 * `npm run lint` (and npm test's lint lane): Biome over the TypeScript/JavaScript tree (lint + format check,
 * biome.jsonc), flake8 and black --check over tools/ (Debian's packages; their config is in setup.cfg and
 * pyproject.toml), and no src/ line over 140 characters (scripts/long-lines.mjs: Biome cannot break template
 * strings, comments or CSS). Runs every check even after one fails; each is one result. --json FILE writes
 * {passed, failed, skipped, checks} for scripts/test.mjs.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PYTHON } from './system-deps.mjs';

const CHECKS = [
  { name: 'biome (TypeScript/JavaScript lint + format)', command: 'npx', args: ['biome', 'ci', '--max-diagnostics=50', '.'] },
  { name: 'flake8 (Python lint)', command: PYTHON, args: ['-m', 'flake8', 'tools'] },
  { name: 'black (Python format)', command: PYTHON, args: ['-m', 'black', '--check', '--quiet', 'tools'] },
  { name: 'line width (src/ lines <= 140 characters)', command: process.execPath, args: ['scripts/long-lines.mjs'] },
];

const results = CHECKS.map(({ name, command, args }) => {
  const started = Date.now();
  const run = spawnSync(command, args, { stdio: 'inherit' });
  const ok = run.status === 0;
  console.log(
    `[lint] ${ok ? 'ok' : 'FAILED'}: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)${ok ? '' : `: ${command} ${args.join(' ')}`}`,
  );
  return { name, ok };
});
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`lint: ${passed} passed, ${failed} failed`);
const jsonIndex = process.argv.indexOf('--json');
if (jsonIndex >= 0) writeFileSync(process.argv[jsonIndex + 1], JSON.stringify({ passed, failed, skipped: 0, checks: results }));
process.exit(failed > 0 ? 1 : 0);
