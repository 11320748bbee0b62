import { silentLogger, validate, monotonicNow, Registry, type Clock, type Logger } from '@overlay/common';
import { answerQuestion } from './answer.js';
import {
  rateLimitSchema,
  redirectorDefaults,
  redirectorStateSchema,
  type RateLimitOptions,
  type RedirectorState,
  type RedirectorStateInput,
} from './config.js';
import { locateClient } from './location.js';
import { createRedirectorMetrics, type RedirectorMetrics, type Transport } from './metrics.js';
import { ResponseRateLimiter } from './rate-limit.js';
import { MAX_TCP_MESSAGE, MIN_UDP_PAYLOAD, Rcode, rcodeLabel, typeLabel } from './wire/constants.js';
import { decodeQuery, type DecodedQuery, type Edns } from './wire/query.js';
import { encodeResponse, encodeTruncated, headerOnly, type EncodedResponse, type ResponseParts } from './wire/response.js';
import { buildZoneIndex, type ZoneIndex } from './zone-index.js';

export interface RedirectorOptions {
  /** Initial zones, sites, front-ends and POP preferences; `update()` replaces them. */
  state: RedirectorStateInput;
  /** Largest UDP response, bytes, whatever the client offers. */
  udpPayloadCap?: number;
  rateLimit?: Partial<RateLimitOptions>;
  /** Where the metrics go; a private registry when omitted. */
  registry?: Registry;
  log?: Logger;
  /** Monotonic ms, for the rate limiter. */
  now?: Clock;
}

export interface ClientInfo {
  /** The packet's source address (a resolver, usually). */
  address: string;
  transport: Transport;
}

type Answerable = Extract<DecodedQuery, { header: unknown }>;

const errorRcodes: Record<Exclude<Answerable['kind'], 'query'>, number> = {
  notimp: Rcode.NOTIMP,
  formerr: Rcode.FORMERR,
  badvers: Rcode.BADVERS,
};

/**
 * The authoritative DNS redirector without sockets: bytes in, bytes out. Holds the compiled state,
 * decides every answer, applies the UDP rate limit and counts what it does. `startRedirector` puts
 * UDP and TCP listeners in front of it.
 */
export class Redirector {
  private index: ZoneIndex;
  private readonly limiter: ResponseRateLimiter;
  private readonly metrics: RedirectorMetrics;
  private readonly log: Logger;
  private readonly udpPayloadCap: number;

  constructor(options: RedirectorOptions) {
    this.log = options.log ?? silentLogger;
    this.metrics = createRedirectorMetrics(options.registry ?? new Registry());
    this.udpPayloadCap = options.udpPayloadCap ?? redirectorDefaults.udpPayloadCap;
    this.limiter = new ResponseRateLimiter(validate(rateLimitSchema, options.rateLimit ?? {}), options.now ?? monotonicNow);
    this.index = this.compile(options.state);
  }

  /** Replaces the whole state at once; throws ConfigError (naming the field) and keeps the old state if invalid. */
  update(state: RedirectorStateInput): void {
    this.index = this.compile(state);
    this.metrics.stateUpdates.inc();
  }

  get state(): RedirectorState {
    return this.index.state;
  }

  get metricSet(): RedirectorMetrics {
    return this.metrics;
  }

  /** The response to one DNS message, or undefined when it deserves none. */
  respond(query: Buffer, client: ClientInfo): Buffer | undefined {
    const decoded = decodeQuery(query);
    if (decoded.kind === 'unreadable' || decoded.kind === 'response') {
      this.metrics.dropped.inc({ reason: decoded.kind });
      return undefined;
    }
    if (client.transport === 'udp') {
      const decision = this.limiter.decide(client.address);
      if (decision !== 'allow') {
        this.metrics.rateLimited.inc({ action: decision });
        if (decision === 'drop') return undefined;
        return this.noLargerThan(query, encodeTruncated(this.bareParts(decoded, Rcode.NOERROR)), decoded);
      }
    }
    const maxSize = client.transport === 'udp' ? this.udpLimit(decoded) : MAX_TCP_MESSAGE;
    const qtype = 'question' in decoded && decoded.question ? typeLabel(decoded.question.type) : 'none';
    const { message, truncated, rcode } = this.answer(decoded, client, maxSize);
    this.metrics.queries.inc({ transport: client.transport, qtype, rcode: rcodeLabel(rcode) });
    if (truncated) this.metrics.truncated.inc({ transport: client.transport });
    return decoded.kind === 'query' ? message : this.noLargerThan(query, message, decoded);
  }

  private answer(decoded: Answerable, client: ClientInfo, maxSize: number): EncodedResponse & { rcode: number } {
    if (decoded.kind !== 'query') {
      const rcode = errorRcodes[decoded.kind];
      return { ...encodeResponse(this.bareParts(decoded, rcode), maxSize), rcode };
    }
    const { header, question, edns } = decoded;
    const subnet = edns?.clientSubnet;
    const answer = answerQuestion(this.index, question, locateClient(client.address, subnet));
    for (const frontEnd of answer.frontEnds) this.metrics.answers.inc({ front_end: frontEnd });
    if (answer.basis) this.metrics.selections.inc({ basis: answer.basis });
    const parts: ResponseParts = { header, question, ...answer, edns: this.ednsEcho(edns) };
    if (parts.edns && subnet) {
      // SOURCE 0 means the resolver withheld the client: the answer then holds for everyone.
      const scopePrefixLength = subnet.sourcePrefixLength === 0 ? 0 : answer.scopeLength;
      parts.edns.clientSubnet = { ...subnet, scopePrefixLength };
    }
    return { ...encodeResponse(parts, maxSize), rcode: answer.rcode };
  }

  /** Header, question (when readable) and OPT (when sent), no records. */
  private bareParts(decoded: Answerable, rcode: number): ResponseParts {
    const question = 'question' in decoded ? decoded.question : undefined;
    const edns = 'edns' in decoded ? decoded.edns : undefined;
    const empty = { answers: [], authorities: [], additionals: [] };
    return { header: decoded.header, rcode, authoritative: false, question, ...empty, edns: this.ednsEcho(edns) };
  }

  private ednsEcho(edns: Edns | undefined): ResponseParts['edns'] {
    return edns ? { udpPayloadSize: this.udpPayloadCap } : undefined;
  }

  /** Without EDNS a UDP answer fits 512 bytes; with it, what the client offers within [512, cap]. */
  private udpLimit(decoded: Answerable): number {
    const offered = 'edns' in decoded && decoded.edns ? decoded.edns.udpPayloadSize : MIN_UDP_PAYLOAD;
    return Math.min(this.udpPayloadCap, Math.max(MIN_UDP_PAYLOAD, offered));
  }

  /** Malformed or limited input never earns a response larger than itself (no amplification). */
  private noLargerThan(query: Buffer, response: Buffer, decoded: Answerable): Buffer {
    if (response.length <= query.length) return response;
    const rcode = response.readUInt16BE(2) & 0xf;
    return headerOnly(decoded.header, rcode, (response[2] & 0x02) !== 0);
  }

  private compile(input: RedirectorStateInput): ZoneIndex {
    const state = validate(redirectorStateSchema, input);
    const index = buildZoneIndex(state);
    const frontEnds = [...index.frontEnds.values()];
    this.log.info(
      {
        zones: index.zones.size,
        sites: Object.keys(state.sites).length,
        frontEnds: frontEnds.length,
        healthyFrontEnds: frontEnds.filter((frontEnd) => frontEnd.healthy).length,
      },
      'redirector state applied',
    );
    return index;
  }
}
