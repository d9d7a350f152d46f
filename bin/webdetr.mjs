#!/usr/bin/env node
/** `webdetr detect <image...> --model <dir|url> ...`: see `webdetr --help` and the README's CLI section. */
import { parseCliArgs, UsageError, USAGE } from '../cli/args.mjs';
import { runDetect } from '../cli/run-detect.mjs';

async function main(argv) {
  let args;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`webdetr: ${error.message}\nRun \`webdetr --help\` for usage.\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return runDetect(args, { stdout: process.stdout, stderr: process.stderr });
}

process.exitCode = await main(process.argv.slice(2));
