/**
 * The CLI's local HTTP server, bound to 127.0.0.1. It serves exactly four things:
 *   /model/<file>   files directly inside the model package directory (when --model is a directory)
 *   /input/<k>      the k-th image named on the command line
 *   /onnxruntime-web/<file>  onnxruntime-web's runtime files from its installed dist/ (the packaged
 *                   page ships no copy of them: vite.cli.config.ts, `--mode package`)
 *   the CLI page    in a repository checkout: the repo's page and sources through vite's dev
 *                   middleware, limited to the paths the page needs; in an installed package: the
 *                   prebuilt page in dist/cli (`npm run build:cli`) as static files
 * Every response is cross-origin isolated (COOP/COEP), so onnxruntime-web can use WASM threads.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css',
  '.map': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
};

/** Paths the dev page may load through vite: its own folder and the CLI loop it shares with Node, the library sources, dependencies, vite's client. */
const VITE_PREFIXES = ['/cli/page/', '/cli/core/', '/src/', '/shaders/', '/schemas/', '/node_modules/', '/@vite/', '/@id/'];

/** One path segment of a package file: no separators, no dot segments, no escapes. */
const PLAIN_FILE_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Where the page comes from: 'vite' in a repository checkout (src/ and vite present), else 'dist'.
 * WEBDETR_CLI_PAGE=vite|dist overrides.
 */
export function choosePageMode(root = PACKAGE_ROOT, env = process.env) {
  if (env.WEBDETR_CLI_PAGE === 'vite' || env.WEBDETR_CLI_PAGE === 'dist') return env.WEBDETR_CLI_PAGE;
  const checkout = existsSync(join(root, 'src', 'index.ts')) && existsSync(join(root, 'node_modules', 'vite'));
  return checkout ? 'vite' : 'dist';
}

/**
 * @param {{ modelDir?: string, images: string[], port?: number, pageMode?: 'vite' | 'dist', root?: string }} options
 * @returns {Promise<{ origin: string, pageUrl: string, modelUrl: string | undefined, imageUrls: string[], close(): Promise<void> }>}
 */
export async function startCliServer(options) {
  const root = options.root ?? PACKAGE_ROOT;
  const pageMode = options.pageMode ?? choosePageMode(root);
  const images = options.images.map((path) => resolve(path));
  const modelDir = options.modelDir === undefined ? undefined : resolve(options.modelDir);

  let vite;
  let pageRoot;
  if (pageMode === 'dist') {
    pageRoot = join(root, 'dist', 'cli');
    if (!existsSync(join(pageRoot, 'index.html'))) {
      throw new Error(`the CLI page is not built (${pageRoot}/index.html is missing): run \`npm run build:cli\``);
    }
  }

  const server = createServer((req, res) => {
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res, 405);
    if (path.startsWith('/model/')) {
      const file = path.slice('/model/'.length);
      if (modelDir === undefined || !PLAIN_FILE_NAME.test(file) || file === '.' || file === '..') return notFound(res);
      return sendFile(req, res, join(modelDir, file));
    }
    const input = /^\/input\/(\d+)$/.exec(path);
    if (input) {
      const image = images[Number(input[1])];
      return image === undefined ? notFound(res) : sendFile(req, res, image, 'application/octet-stream');
    }
    if (path === '/favicon.ico') return notFound(res, 204);
    if (path.startsWith('/onnxruntime-web/')) {
      const file = path.slice('/onnxruntime-web/'.length);
      if (!PLAIN_FILE_NAME.test(file) || file === '.' || file === '..') return notFound(res);
      return sendFile(req, res, join(dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))), file));
    }
    if (vite) {
      // The page's HTML as is: vite's HTML transform would add its HMR client, which wants a websocket.
      if (path === '/cli/page/index.html') return sendFile(req, res, join(root, 'cli', 'page', 'index.html'));
      if (!VITE_PREFIXES.some((prefix) => url.pathname.startsWith(prefix))) return notFound(res);
      // Vite sees the normalized path that was checked, never a raw one with dot segments.
      req.url = url.pathname + url.search;
      vite.middlewares(req, res, () => notFound(res));
      return;
    }
    const relative = path === '/' ? 'index.html' : path.slice(1);
    const target = resolve(pageRoot, relative);
    if (!target.startsWith(pageRoot + sep)) return notFound(res);
    return sendFile(req, res, target);
  });

  if (pageMode === 'vite') {
    const { createServer: createViteServer } = await import('vite');
    vite = await createViteServer({
      root,
      configFile: join(root, 'vite.config.ts'),
      logLevel: 'error',
      appType: 'custom',
      // Vite's client (which modules and workers import in dev) wants its websocket: give it this
      // server, so it connects instead of throwing in the worker.
      server: { middlewareMode: true, ws: { server }, watch: null },
    });
  }

  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolveListen(undefined));
  });
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    pageMode,
    pageUrl: `${origin}${vite ? '/cli/page/index.html' : '/index.html'}`,
    modelUrl: modelDir === undefined ? undefined : `${origin}/model/manifest.json`,
    imageUrls: images.map((_, k) => `${origin}/input/${k}`),
    async close() {
      server.closeAllConnections?.();
      await new Promise((done) => server.close(() => done(undefined)));
      await vite?.close();
    },
  };
}

function notFound(res, status = 404) {
  res.statusCode = status;
  res.end();
}

async function sendFile(req, res, path, contentType) {
  let info;
  try {
    info = await stat(path);
  } catch {
    return notFound(res);
  }
  if (!info.isFile()) return notFound(res);
  res.setHeader('Content-Type', contentType ?? CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(info.size));
  res.setHeader('Cache-Control', 'no-store');
  if (req.method === 'HEAD') return res.end();
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
}
