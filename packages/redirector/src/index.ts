export {
  loadRedirectorConfig,
  redirectorConfigSchema,
  redirectorStateSchema,
  redirectorDefaults,
  rateLimitSchema,
  type RedirectorConfig,
  type RedirectorConfigInput,
  type RedirectorState,
  type RedirectorStateInput,
  type RateLimitOptions,
} from './config.js';
export { Redirector, type RedirectorOptions, type ClientInfo } from './redirector.js';
export { startRedirector, type RunningRedirector, type StartRedirectorOptions, type BoundAddress } from './start.js';
export type { UdpIo } from './listeners.js';
export {
  selectFrontEnds,
  rendezvousScore,
  type FrontEndView,
  type Selection,
  type SelectionBasis,
  type SelectionInput,
} from './select.js';
export { PopTable, type PopMatch } from './pop-table.js';
export { ResponseRateLimiter, type RateDecision } from './rate-limit.js';
export { decodeQuery, type DecodedQuery, type QueryHeader, type Question, type Edns, type ClientSubnet } from './wire/query.js';
export { TcpMessageReader, frameMessage } from './wire/tcp-framing.js';
export { TcpSlots, type TcpSlotPolicy } from './tcp-slots.js';
export { createZoneSigner, keyTag, typeBitmap, compactNsec, type ZoneSigner } from './dnssec/signer.js';
export { parseRecordData, recordTypeCode, RecordDataError } from './record-data.js';
export { encodeSections, type EncodedSections, type RecordSections, type ResourceRecord } from './wire/sections.js';
export { writeResponse, type ResponseFrame, type EncodedResponse } from './wire/response.js';
export { GenerationCache, PairCache } from './bounded-cache.js';
export { parseAddress, type IpBytes } from './address.js';
