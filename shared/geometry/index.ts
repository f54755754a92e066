// Geometry of annotations in continuous image pixels (ARCHITECTURE decision 3): polygons,
// boxes, raster masks, COCO RLE and the conversions between them. Pure; no I/O.
export * from './bounds.ts'
export * from './iou.ts'
export * from './mask.ts'
export * from './maskBounds.ts'
export * from './maskToPolygons.ts'
export * from './polygon.ts'
export * from './rasterize.ts'
export * from './rle.ts'
