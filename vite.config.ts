import { defineConfig } from 'vitest/config';

const swiftshaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  // No SPA fallback: a missing model file must be a 404, as on any static host.
  appType: 'mpa',
  server: {
    host: '127.0.0.1',
    // Cross-origin isolation lets onnxruntime-web use WASM threads (SharedArrayBuffer).
    headers: {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    },
  },
  preview: {
    host: '127.0.0.1',
    headers: {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    },
  },
  optimizeDeps: {
    // onnxruntime-web loads its own .wasm/.mjs files; pre-bundling breaks those relative URLs.
    exclude: ['onnxruntime-web'],
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Dawn (the `webgpu` package) finds SwiftShader through the Vulkan ICD that Debian chromium ships.
    env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? swiftshaderIcd },
    // Exports the test packages first when WEBDETR_E2E_EXPORT_FIRST=1 (npm test).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One GPU-heavy file at a time: the machine has two cores and SwiftShader uses both.
    fileParallelism: false,
  },
});
