import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app/App.tsx'
import './app/styles.css'
import type { SegmentationClient } from './ml/SegmentationClient.ts'
import { segmentationClient } from './ml/useSegmentation.ts'

declare global {
  interface Window {
    /** For end-to-end tests and benchmarks: the tab's segmentation worker (started on call). */
    __tesseraSegmentation?: () => SegmentationClient
  }
}
window.__tesseraSegmentation = segmentationClient

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
