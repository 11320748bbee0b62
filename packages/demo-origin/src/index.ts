export { startDemoOrigin, type DemoOrigin, type StartDemoOriginOptions } from './server.js';
export { demoBytes, demoBytesEtag, DEMO_CHUNK_BYTES, MAX_DEMO_BYTES } from './bytes.js';
export { ServiceModel, type ServiceModelOptions } from './capacity.js';
export { defaultDemoOriginOptions, type DemoOriginOptions } from './options.js';
