/** Corridor partner client for Node.js (docs/partners/typescript.md). */
export * from './avro';
export * from './jcs';
export * from './wire';
export * from './certificates';
export * from './webhooks';
export * from './consumer';
