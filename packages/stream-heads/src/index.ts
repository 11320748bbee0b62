export {
  parseStreamHead, parseResponseHead, HEAD_LIMITS,
  type StreamHead, type RequestHead, type TcpHead, type ResponseHead, type ClientAddress,
} from './heads.js';
export { HOP_BY_HOP, endToEndFlat, endToEndFromRaw, flatPairs } from './headers.js';
export { byteCountsBySite, relayBytes, type ByteCounts } from './raw.js';
export { Tally } from './tally.js';
