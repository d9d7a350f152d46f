/** A local static file server for model packages in Node tests (what a page's fetch would see). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface StaticServer {
  /** http://127.0.0.1:port/ — `mounts` keys become the first path segment. */
  base: string;
  requests: string[];
  close(): Promise<void>;
}

export async function serveDirectories(mounts: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    const [, mount, ...rest] = url.pathname.split('/');
    const root = mount === undefined ? undefined : mounts[mount];
    const path = root === undefined ? undefined : normalize(join(root, ...rest));
    if (root === undefined || path === undefined || !path.startsWith(normalize(root))) {
      res.writeHead(404).end();
      return;
    }
    stat(path).then(
      (info) => {
        if (!info.isFile()) return void res.writeHead(404).end();
        // No keep-alive: undici may reuse a socket the server is just closing (ECONNRESET between tests).
        res.writeHead(200, { 'content-length': String(info.size), connection: 'close' });
        createReadStream(path).pipe(res);
      },
      () => void res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
