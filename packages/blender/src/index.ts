export { Blender, BlendGroup, BlendQueue, type EmitFn, type RingState } from './blender.js';
export { defaultBlenderOptions, verifyBlenderOptions, type BlenderOptions } from './options.js';
