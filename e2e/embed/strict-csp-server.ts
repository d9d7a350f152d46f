/**
 * A tiny static server for the embed specs that sends a strict Content-Security-Policy header with
 * every response (pages, the bundle, its worker, the wasm, the models): no inline script or style,
 * no eval, only 'wasm-unsafe-eval' for onnxruntime-web. Requests are recorded, so a spec can count
 * downloads. The policy is the one docs/embed.md documents.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

export const STRICT_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

export interface StrictServerOptions {
  /** Exact request paths served from a file (`/` -> a page, a picture from outside the repository). */
  files?: Record<string, string>;
  /** Send the CSP header (default true); false to tell a CSP failure from any other while debugging. */
  csp?: boolean;
}

export interface StrictServer {
  base: string;
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `options.files[path]`, else `/<mount>/<path>` from `mounts[mount]/<path>` (directories
 * relative to the repository root).
 */
export async function serveWithStrictCsp(mounts: Record<string, string>, options: StrictServerOptions = {}): Promise<StrictServer> {
  const policy = options.csp === false ? {} : { 'content-security-policy': STRICT_CSP };
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const [, mount = '', ...rest] = path.split('/');
    const dir = mounts[mount];
    const file = options.files?.[path] ?? (dir === undefined || rest.includes('..') ? undefined : normalize(join(dir, ...rest)));
    if (file === undefined || !statSync(file, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...policy, connection: 'close' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
