import type { ModelFileCache } from '../../src/package/fetch-verified.js';

/** A ModelFileCache in a Map, so tests can see (and corrupt) what the loader stored. */
export class MemoryCache implements ModelFileCache {
  readonly entries = new Map<string, Uint8Array<ArrayBuffer>>();
  async match(url: string) {
    const bytes = this.entries.get(url);
    return bytes ? new Response(bytes) : undefined;
  }
  async put(url: string, response: Response) {
    this.entries.set(url, new Uint8Array(await response.arrayBuffer()));
  }
  async delete(url: string) {
    return this.entries.delete(url);
  }
}
