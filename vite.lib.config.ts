import { defineConfig } from 'vite';

/** Library build (`npm run build:lib`): the ESM files the package.json exports map points at. */
export default defineConfig({
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', kernels: 'src/kernels/index.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      // Dependencies stay imports: the app's bundler resolves (and dedupes) them.
      external: ['onnxruntime-web', 'comlink', '@cfworker/json-schema'],
    },
  },
});
