#!/usr/bin/env node
/**
 * `npm run export -- <checkpoint.pth> --out <dir> [--height H --width W] [--fp16] ...`:
 * runs tools/export.py with Debian's /usr/bin/python3 (torch, onnx) and passes every argument through.
 */
import { spawnSync } from 'node:child_process';
import { PYTHON } from './system-deps.mjs';

const result = spawnSync(PYTHON, ['tools/export.py', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
