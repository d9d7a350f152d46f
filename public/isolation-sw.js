/*
 * webdetr's cross-origin isolation service worker, for static hosts that cannot send headers.
 * onnxruntime-web's WASM threads need SharedArrayBuffer, which browsers give only to cross-origin isolated
 * pages: this worker adds `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp` to every response it serves from the network, nothing else (no caching, no rewriting).
 * Register it with `enableCrossOriginIsolation()` from 'webdetr' (docs/api.md); serve this file from the
 * page's own directory so its scope covers the page. Cross-origin model or image URLs must send CORS headers,
 * as they must anyway.
 */
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // A devtools quirk: 'only-if-cached' is allowed for same-origin requests only.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(
    fetch(request).then((response) => {
      // Opaque responses (no-cors to another origin) cannot be read or changed.
      if (response.type === 'opaque' || response.type === 'opaqueredirect') return response;
      const headers = new Headers(response.headers);
      headers.set('Cross-Origin-Opener-Policy', 'same-origin');
      headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
