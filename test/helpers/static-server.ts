/**
 * Local HTTP servers for Node tests (what a page's fetch would see): model package directories from
 * disk, or in-memory routes whose status, headers, chunking and dropped connections a test chooses.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface StaticServer {
  /** http://127.0.0.1:port/ — `mounts` keys (or route paths without their `/`) follow it. */
  base: string;
  /** http://127.0.0.1:port, no trailing slash: `${origin}/path`. */
  origin: string;
  /** Paths requested so far, in order, without query strings; tests may empty it (`length = 0`). */
  requests: string[];
  close(): Promise<void>;
}

/** One in-memory response. */
export interface Route {
  body: string | Uint8Array;
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Write the body in pieces of this many bytes (a progress callback then sees intermediate values). */
  chunkBytes?: number;
  /** Write only this many bytes, then destroy the socket (a download broken off). */
  dropAfterBytes?: number;
}

/** A path's route, or undefined for a 404. */
export type RouteLookup = (path: string) => Route | undefined;

async function listen(handle: (path: string, req: IncomingMessage, res: ServerResponse) => void): Promise<StaticServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    requests.push(path);
    handle(path, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    base: `${origin}/`,
    origin,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function serveDirectories(mounts: Record<string, string>): Promise<StaticServer> {
  return listen((pathname, _req, res) => {
    const [, mount, ...rest] = pathname.split('/');
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
}

/** Serves `routes` (a map read at request time, or a lookup function); any other path is a 404. */
export async function serveRoutes(routes: ReadonlyMap<string, Route> | RouteLookup): Promise<StaticServer> {
  const lookup: RouteLookup = typeof routes === 'function' ? routes : (path) => routes.get(path);
  return listen((path, _req, res) => {
    const route = lookup(path);
    if (route === undefined) {
      res.writeHead(404, { connection: 'close' }).end();
      return;
    }
    const body = typeof route.body === 'string' ? new TextEncoder().encode(route.body) : route.body;
    // No keep-alive, as in serveDirectories.
    res.writeHead(route.status ?? 200, { connection: 'close', ...route.headers });
    if (route.dropAfterBytes !== undefined) {
      res.write(body.subarray(0, route.dropAfterBytes), () => res.destroy());
      return;
    }
    const chunk = route.chunkBytes ?? Math.max(body.byteLength, 1);
    for (let offset = 0; offset < body.byteLength; offset += chunk) res.write(body.subarray(offset, offset + chunk));
    res.end();
  });
}
