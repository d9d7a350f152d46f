#!/usr/bin/env node
/**
 * `prepack` of webdetr-models: copies the shipped model packages from the repository's public/models
 * (the one copy the demo, the tests and the training pipeline use) into this folder, then checks that
 * every file each manifest names is here, so a packed tarball always loads.
 */
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const source = new URL('../../public/models/', import.meta.url);
const here = new URL('./', import.meta.url);
for (const model of ['detector', 'oneshot']) {
  rmSync(new URL(model, here), { recursive: true, force: true });
  cpSync(new URL(model, source), new URL(model, here), { recursive: true });
  const manifest = JSON.parse(readFileSync(new URL(`${model}/manifest.json`, here), 'utf8'));
  for (const { file } of manifest.graphs) {
    if (!existsSync(join(new URL(model, here).pathname, file))) throw new Error(`webdetr-models: ${model}/${file} is missing`);
  }
}
cpSync(new URL('THIRD_PARTY_NOTICES.md', source), new URL('THIRD_PARTY_NOTICES.md', here));
