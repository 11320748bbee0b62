export { OriginBalancer, type OriginBalancerInit, type OriginHealthView, type OriginLoad } from './origin-balancer.js';
export { RouteTable, pathOf, type Origin, type OriginSpec, type RouteSpec, type SiteOrigins } from './routes.js';
export { requestTypeOf, requestTypes, type RequestInfo, type RequestType } from './request-type.js';
export {
  HealthTracker, type HealthChange, type HealthReason, type HealthState, type HealthStatus, type HealthTrackerInit,
  type RequestOutcome,
} from './health-tracker.js';
export { BackendSelector, type BackendSelectorInit } from './backend-selector.js';
export { evaluateRoutes, type BackendRoute, type RouteEvaluation, type RouteVerdict } from './backend-score.js';
export {
  defaultOriginBalancerOptions, defaultHealthOptions, defaultBackendSelectorOptions, siteLimits,
  verifyOriginBalancerOptions, verifyHealthOptions, verifyBackendSelectorOptions,
  type OriginBalancerOptions, type HealthOptions, type BackendSelectorOptions,
} from './options.js';
