// Built into viewer/dist; `cim serve` serves index.html at / and the assets under /static/.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/static/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 3000,
    sourcemap: false,
    rollupOptions: {
      // bench.html is the GeoJSON peer of bench/viewer_bench.py, not part of the app
      input: { main: 'index.html', bench: 'bench.html' },
    },
  },
  server: {
    // `npm run dev` against a running `cim serve` on :8000
    proxy: Object.fromEntries(['/api', '/collections', '/tiles', '/3dtiles', '/sta'].map((p) => [p, 'http://127.0.0.1:8000'])),
  },
});
