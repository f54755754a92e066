// Test fixture: the frame worker body, except that a frame 13 pixels wide ends the thread (as a
// crash would) before any work on it, so that tests can check that the pool rejects that frame,
// replaces the worker and goes on. Never used outside tests.
import { parentPort } from 'node:worker_threads'
import type { FrameRequest } from './frameMessages.ts'

await import('./frameWorker.ts')
// The real body's listener only queues the frame (its work starts on a later tick), so this
// one, called right after it, ends the thread first.
parentPort!.on('message', (request: FrameRequest) => {
  if (request.frame.width === 13) process.exit(70)
})
