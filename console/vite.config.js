// Vite build of the gridkb console. Element Plus components and their styles are imported on
// demand (unplugin-vue-components + unplugin-auto-import with the Element Plus resolver); the
// editor and dashboard views are separate chunks loaded on first visit, and ECharts is imported
// from `echarts/core` inside the dashboard only. The output (dist/) is embedded into the gridkb
// binary by crates/server/build.rs; every text file over 1 KB gets a .gz beside it that the server
// sends to browsers that accept gzip.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// After the bundle is written (Vite rewrites chunks until then: compressing earlier would keep
// placeholders such as __VITE_PRELOAD__), gzip every text file over 1 KB beside itself.
function precompress() {
  return {
    name: 'gridkb-precompress',
    apply: 'build',
    enforce: 'post',
    writeBundle(options, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css|svg|json)$/.test(name)) continue
        const path = join(options.dir, name)
        const source = readFileSync(path)
        if (source.length < 1024) continue
        writeFileSync(`${path}.gz`, gzipSync(source, { level: 9 }))
      }
    },
  }
}

export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    AutoImport({ resolvers: [ElementPlusResolver()], dts: false }),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
    precompress(),
  ],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    // No inline scripts or data: URLs for scripts (the server's CSP allows 'self' only).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 900,
  },
  server: {
    // `npm run dev` against a running `gridkb serve` on the default address.
    proxy: { '/v1': 'http://127.0.0.1:7700', '/readyz': 'http://127.0.0.1:7700', '/healthz': 'http://127.0.0.1:7700' },
  },
})
