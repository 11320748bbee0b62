export { Cancellation, type AbortLike } from './cancellation.js';
export { OverlayError, ConfigError, ConfigErrors, configProblems, errorCode, ignoreError, type ErrorOrigin, type OverlayErrorOptions } from './errors.js';
export { createLogger, silentLogger, printReadyLine, type Logger, type LogOptions } from './log.js';
export { SmoothedValue, Backoff, defaultBackoff, monotonicNow, pollUntil, type BackoffOptions, type Clock, type PollOptions } from './timing.js';
export { validate, validateAll, expandEnv, parseConfigText, readConfigFile, loadConfigFile, changedPaths, formatPath, parseHostPort, formatHostPort } from './config.js';
export {
  createRegistry, startAdminServer, reloadRoute, adminTokenCheck, bearerMatches, Counter, Gauge, Histogram, Registry,
  type AdminServer, type AdminServerOptions, type AdminRoute, type ReloadOutcome,
} from './admin.js';
export { startProcess, type StartedProcess, type StartProcessOptions } from './process.js';
export {
  hostPortSchema, gatewayIdSchema, siteNameSchema, ownValue, GATEWAY_ID_PATTERN, SITE_NAME_PATTERN, domainSchema, managerLinkSchema,
  advertisedAddressSchema, bindsEveryAddress, isWildcardHost, hostHeaderSchema, siteHealthCheckSchema, originUrlProblem, ORIGIN_SCHEMES, type SiteMode,
} from './names.js';
export {
  decodeProxyHeader, encodeProxyHeader, ProxyProtocolError, PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES, PROXY_V2_SIGNATURE,
  type ProxyEndpoint, type ProxyHeader, type ProxyDecode,
} from './proxy-protocol.js';
export { createDemoPki, spkiHash, type DemoPki, type IssuedCertificate } from './pki.js';
export { readPem } from './pem.js';
export { accessLogSchema, createAccessLog, type AccessEntry, type AccessLog, type AccessLogger, type AccessLogOptions, type AccessLogSettings } from './access-log.js';
export { SourceSlots, sourceKey, verifySourceSlotOptions, type SourceSlotOptions } from './source-slots.js';
export { freePort } from './ports.js';
export { RING_COUNT, packetSizeSchema, ringFeaturesSchema, ringWeightsSchema, ringsStateSchema, type RingFeatures, type RingsState } from './rings.js';
