export { startFrontEnd, type FrontEnd, type StartFrontEndOptions } from './front-end.js';
export type { FrontEndStatus, TunnelStatus } from './gateway.js';
export { runFrontEndWorker } from './cluster-worker.js';
export { mergeWorkerStatuses } from './cluster-status.js';
export {
  frontEndConfigSchema, frontEndStateSchema, backEndStateSchema, siteStateSchema, ringsSchema, loadFrontEndConfig,
  type FrontEndConfig, type FrontEndConfigInput, type FrontEndState, type FrontEndStateInput, type BackEndState, type SiteState,
} from './config.js';
export { FrontEndErrorCode, ExchangeError } from './errors.js';
export {
  defaultHttpListenerOptions, defaultCacheSettings, defaultBackEndRoute, defaultTcpSiteOptions, clusterTimings,
  type HttpListenerOptions, type CacheSettings, type TcpSiteOptions,
} from './options.js';
export { buildRequestHead, clientAddress, requestHasBody, type ForwardContext } from './request-head.js';
export { SiteTable, hostName, type Site } from './sites.js';
export { watchIdle, type Every } from './idle-watch.js';
export { requestTrace, withTrace, type RequestTrace } from './access-log.js';
export { TalliedHistogram } from './metrics.js';
export {
  CertificateStore, newTicketKeys, readCertificates, defaultTlsSettings,
  type CertificatePem, type CertificateSource, type CertificateInfo, type SiteCertificate, type TlsSettings,
} from './tls.js';
