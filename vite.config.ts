// Vite serves and builds the React client in client/. The dev server proxies the API and the
// collaboration websockets to the Tessera server and sends the cross-origin isolation headers
// that onnxruntime-web needs for wasm threads.
import react from '@vitejs/plugin-react'
import { defaultClientConditions, defineConfig } from 'vite'

const serverUrl = process.env.TESSERA_DEV_SERVER ?? 'http://127.0.0.1:8080'
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
}

export default defineConfig({
  root: 'client',
  plugins: [react()],
  // onnxruntime-web without its wasm files inlined as assets: the server hands them out at
  // /ort/ (the worker sets env.wasm.wasmPaths), so the build stays small.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: { outDir: '../dist/client', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: {
    host: '127.0.0.1',
    headers: isolationHeaders,
    proxy: {
      '/api': { target: serverUrl, changeOrigin: false },
      '/collab': { target: serverUrl, ws: true },
      '/streams': { target: serverUrl, ws: true },
      '/ort': { target: serverUrl },
    },
  },
  preview: { host: '127.0.0.1', headers: isolationHeaders },
  worker: { format: 'es' },
})
