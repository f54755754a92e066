// Live instrument streams (ARCHITECTURE decision 11): the module's surface for app.ts and
// server.ts. Inference lives in ./inference, the detector simulator in ./simulator.ts.
export { keepFrame } from './keepFrame.ts'
export { registerStreamRoutes } from './routes.ts'
export { StreamHub, type StreamHubOptions } from './StreamHub.ts'
export { StreamSockets } from './streamSockets.ts'
