// Vite build of the gridkb console. Element Plus components and their styles are imported on
// demand (unplugin-vue-components + unplugin-auto-import with the Element Plus resolver); the
// editor and dashboard views are separate chunks loaded on first visit, and ECharts is imported
// from `echarts/core` inside the dashboard only. The output (dist/) is embedded into the gridkb
// binary by crates/server/build.rs; every text file over 1 KB gets a .gz beside it that the server
// sends to browsers that accept gzip.
import { gzipSync } from 'node:zlib'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

function precompress() {
  return {
    name: 'gridkb-precompress',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const packed = []
      for (const [name, file] of Object.entries(bundle)) {
        if (!/\.(js|css|svg|json)$/.test(name)) continue
        const source = Buffer.from(file.type === 'chunk' ? file.code : file.source)
        if (source.length < 1024) continue
        packed.push([name, gzipSync(source, { level: 9 })])
      }
      for (const [name, gz] of packed) this.emitFile({ type: 'asset', fileName: `${name}.gz`, source: gz })
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
