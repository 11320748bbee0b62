/** DNS numbers this server speaks, from the IANA registries (RFC 1035, 3596, 6891, 7871). */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  CDS: 59,
  CDNSKEY: 60,
  /** RFC 9824: the NSEC type bit that says "this name does not exist" in compact denial. */
  NXNAME: 128,
  CAA: 257,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const RRClass = { IN: 1, ANY: 255 } as const;

export const Opcode = { QUERY: 0 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended rcode (needs an OPT record): the query's EDNS version is not 0. */
  BADVERS: 16,
} as const;

export const EdnsOption = { ECS: 8 } as const;

export const HEADER_SIZE = 12;
/** Plain DNS over UDP without EDNS (RFC 1035 §4.2.1), bytes; also the floor for any EDNS size (RFC 6891 §6.2.5). */
export const MIN_UDP_PAYLOAD = 512;
/** The length prefix of DNS over TCP is 16 bits (RFC 1035 §4.2.2). */
export const MAX_TCP_MESSAGE = 65_535;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([name, code]) => [code, name]));
const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([name, code]) => [code, name]));

/** Metric label for a query type; unknown types share one label so an attacker cannot grow the series. */
export function typeLabel(type: number): string {
  return typeNames.get(type) ?? 'other';
}

export function rcodeLabel(rcode: number): string {
  return rcodeNames.get(rcode) ?? 'other';
}
