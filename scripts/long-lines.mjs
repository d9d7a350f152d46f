#!/usr/bin/env node
/**
 * Lines in src/ over 140 characters (lint lane, scripts/lint.mjs). Biome's lineWidth is 140 but it cannot
 * break template strings, comments or CSS, so those can grow past it unnoticed; this catches them.
 * Prints file:line: length for each and exits 1 when there is any.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const MAX_LINE = 140;

/** `{ line, length }` (1-based line) for each line of `text` longer than `max` characters (UTF-16 units, as editors count). */
export function longLines(text, max = MAX_LINE) {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ line: i + 1, length: line.length }))
    .filter(({ length }) => length > max);
}

/** `file:line: N characters` for every long line of the tracked files under `dir`. */
export function reportLongLines(dir = 'src', max = MAX_LINE) {
  const files = execFileSync('git', ['ls-files', '-z', dir], { encoding: 'utf8' }).split('\0').filter(Boolean);
  return files.flatMap((file) =>
    longLines(readFileSync(file, 'utf8'), max).map(({ line, length }) => `${file}:${line}: ${length} characters (max ${max})`),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const report = reportLongLines();
  for (const entry of report) console.log(entry);
  process.exit(report.length > 0 ? 1 : 0);
}
