export { startBackEnd, type BackEnd, type BackEndOptions, type BackEndStatus, type OriginStatus } from './backend.js';
export {
  backEndConfigSchema, backEndStateSchema, siteSchema, loadBackEndConfig, parseBackEndConfig, parseBackEndState, defaultOriginId,
  type BackEndConfig, type BackEndConfigInput, type BackEndState, type BackEndStateInput, type SiteConfig, type OriginConfig,
  type LimitsConfig, type QueueConfig, type HealthConfig, type PoolConfig, type SiteMode,
} from './config.js';
export { backEndDefaults, backEndLimits } from './defaults.js';
export { BackEndErrorCode, answerFor, type ErrorAnswer } from './errors.js';
export { BACKEND_HEADER } from './answers.js';
export { ReleaseRanker, sizeClass, type ReleaseOrder } from './release-order.js';
export { parseFreshness } from './probe.js';
