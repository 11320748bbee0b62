import { silentLogger, validate, monotonicNow, Registry, type Clock, type Logger } from '@overlay/common';
import { AnswerCache } from './answer-cache.js';
import {
  rateLimitSchema,
  redirectorDefaults,
  redirectorStateSchema,
  type RateLimitOptions,
  type RedirectorState,
  type RedirectorStateInput,
} from './config.js';
import { ClientLocator } from './location.js';
import { answerTallies, createRedirectorMetrics, type RedirectorMetrics, type Transport } from './metrics.js';
import { ResponseRateLimiter } from './rate-limit.js';
import { MAX_TCP_MESSAGE, MIN_UDP_PAYLOAD, Rcode, rcodeLabel, typeLabel } from './wire/constants.js';
import { decodeQuery, type DecodedQuery, type Edns } from './wire/query.js';
import { headerOnly, writeResponse, type ResponseFrame } from './wire/response.js';
import { buildZoneIndex, type ZoneIndex } from './zone-index.js';
import { ZoneKeyFiles } from './dnssec/keys.js';
import { createZoneSigner } from './dnssec/signer.js';

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
  /** Wall-clock seconds since the epoch, for DNSSEC signature times. */
  wallSeconds?: () => number;
}

export interface ClientInfo {
  /** The packet's source address (a resolver, usually). */
  address: string;
  transport: Transport;
}

type Answerable = Extract<DecodedQuery, { header: unknown }>;

/** The one rate-limit bucket every error answer (FORMERR, NOTIMP, BADVERS) of a network shares. */
const ERROR_BUCKET = 'error';

const errorRcodes: Record<Exclude<Answerable['kind'], 'query'>, number> = {
  notimp: Rcode.NOTIMP,
  formerr: Rcode.FORMERR,
  badvers: Rcode.BADVERS,
};

/** A compiled state and the answers worked out from it: swapped as one, so no answer outlives its state. */
interface Compiled {
  index: ZoneIndex;
  answers: AnswerCache;
}

/**
 * The authoritative DNS redirector without sockets: bytes in, bytes out. Holds the compiled state,
 * decides every answer, applies the UDP rate limit and counts what it does. `startRedirector` puts
 * UDP and TCP listeners in front of it. docs/redirector.md "Hot path" says how a query is answered.
 */
export class Redirector {
  private compiled: Compiled;
  private readonly limiter: ResponseRateLimiter;
  private readonly locator = new ClientLocator(redirectorDefaults.caches.sourceAddresses);
  private readonly metrics: RedirectorMetrics;
  private readonly log: Logger;
  private readonly udpPayloadCap: number;
  private readonly keyFiles = new ZoneKeyFiles();
  private readonly wallSeconds: () => number;
  /** Set by `limited`: what a limited query gets (answers are synchronous, so one slot is enough). */
  private slipOrDrop: Buffer | undefined;

  constructor(options: RedirectorOptions) {
    this.log = options.log ?? silentLogger;
    this.metrics = createRedirectorMetrics(options.registry ?? new Registry());
    this.udpPayloadCap = options.udpPayloadCap ?? redirectorDefaults.udpPayloadCap;
    this.limiter = new ResponseRateLimiter(validate(rateLimitSchema, options.rateLimit ?? {}), options.now ?? monotonicNow);
    this.wallSeconds = options.wallSeconds ?? (() => Math.floor(Date.now() / 1000));
    this.compiled = this.compile(options.state);
  }

  /** Replaces the whole state at once; throws ConfigError (naming the field) and keeps the old state if invalid. */
  update(state: RedirectorStateInput): void {
    this.compiled = this.compile(state);
    this.metrics.stateUpdates.inc();
  }

  /**
   * Forgets every worked-out answer, so signatures are made afresh: called well within their validity
   * (startRedirector does it every quarter of the shortest validity).
   */
  refreshSignatures(): void {
    const { index } = this.compiled;
    this.compiled = { index, answers: new AnswerCache(index, redirectorDefaults.caches.answers, this.wallSeconds) };
  }

  /** The DS record text of every signed zone, for the parent (also logged when a state is applied). */
  get dsRecords(): string[] {
    return [...this.compiled.index.zones.values()].flatMap((zone) => (zone.signer ? [zone.signer.dsText] : []));
  }

  /** The shortest signature validity among signed zones, seconds; undefined when none is signed. */
  get signatureValiditySeconds(): number | undefined {
    const validities = [...this.compiled.index.zones.values()].flatMap((zone) => (zone.signer ? [zone.signer.validitySeconds] : []));
    return validities.length ? Math.min(...validities) : undefined;
  }

  get state(): RedirectorState {
    return this.compiled.index.state;
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
    const maxSize = client.transport === 'udp' ? this.udpLimit(decoded) : MAX_TCP_MESSAGE;
    if (decoded.kind === 'query') return this.answer(query, decoded, client, maxSize);
    if (client.transport === 'udp' && this.limited(query, decoded, client, ERROR_BUCKET)) return this.slipOrDrop;
    const rcode = errorRcodes[decoded.kind];
    const { message, truncated } = writeResponse(this.bareFrame(decoded, rcode), maxSize);
    const qtype = decoded.question ? typeLabel(decoded.question.type) : 'none';
    this.metrics.queries.inc({ transport: client.transport, qtype, rcode: rcodeLabel(rcode) });
    if (truncated) this.metrics.truncated.inc({ transport: client.transport });
    return this.noLargerThan(query, message, decoded);
  }

  /**
   * The rate limiter's verdict on a UDP response of bucket `limitKey`: false to send it; true when it is
   * withheld, with `slipOrDrop` set to the slip (a bare TC answer) or undefined.
   */
  private limited(query: Buffer, decoded: Answerable, client: ClientInfo, limitKey: string): boolean {
    const decision = this.limiter.decide(client.address, limitKey);
    if (decision === 'allow') return false;
    this.metrics.rateLimited.inc({ action: decision });
    this.slipOrDrop = undefined;
    if (decision === 'slip') {
      const slip = writeResponse({ ...this.bareFrame(decoded, Rcode.NOERROR), truncated: true }, this.udpLimit(decoded));
      this.slipOrDrop = this.noLargerThan(query, slip.message, decoded);
    }
    return true;
  }

  private answer(query: Buffer, decoded: Extract<DecodedQuery, { kind: 'query' }>, client: ClientInfo, maxSize: number): Buffer | undefined {
    const { header, question, edns } = decoded;
    const subnet = edns?.clientSubnet;
    const dnssecOk = edns?.dnssecOk === true;
    const { answer, scopeLength } = this.compiled.answers.lookup(question, this.locator.locate(client.address, subnet), dnssecOk);
    if (client.transport === 'udp' && this.limiter.enabled && this.limited(query, decoded, client, answer.limitKey)) return this.slipOrDrop;
    // The counters an answer bumps are looked up once, when it is first sent.
    answer.tallies ??= answerTallies(this.metrics, typeLabel(question.type), { ...answer, rcode: rcodeLabel(answer.rcode) });
    for (const tally of answer.tallies[client.transport]) tally.count += 1;
    const frame: ResponseFrame = { header, question, rcode: answer.rcode, authoritative: answer.authoritative, sections: answer.sections };
    if (edns) {
      // SOURCE 0 means the resolver withheld the client: the answer then holds for everyone.
      const clientSubnet = subnet && { ...subnet, scopePrefixLength: subnet.sourcePrefixLength === 0 ? 0 : scopeLength };
      frame.edns = { udpPayloadSize: this.udpPayloadCap, clientSubnet, dnssecOk };
    }
    const { message, truncated } = writeResponse(frame, maxSize);
    if (truncated) this.metrics.truncated.inc({ transport: client.transport });
    return message;
  }

  /** Header, question (when readable) and OPT (when sent), no records. */
  private bareFrame(decoded: Answerable, rcode: number): ResponseFrame {
    const question = 'question' in decoded ? decoded.question : undefined;
    const edns = 'edns' in decoded ? decoded.edns : undefined;
    return { header: decoded.header, rcode, authoritative: false, question, edns: this.ednsEcho(edns) };
  }

  private ednsEcho(edns: Edns | undefined): ResponseFrame['edns'] {
    return edns ? { udpPayloadSize: this.udpPayloadCap, dnssecOk: edns.dnssecOk } : undefined;
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

  private compile(input: RedirectorStateInput): Compiled {
    const state = validate(redirectorStateSchema, input);
    const index = buildZoneIndex(state, (apex, zone) =>
      zone.dnssec ? createZoneSigner(apex, this.keyFiles.load(zone.dnssec.keyFile), { ttl: zone.ttl, validitySeconds: zone.dnssec.signatureValiditySeconds }) : undefined,
    );
    const frontEnds = [...index.frontEnds.values()];
    this.log.info(
      {
        zones: index.zones.size,
        sites: Object.keys(state.sites).length,
        frontEnds: frontEnds.length,
        healthyFrontEnds: frontEnds.filter((frontEnd) => frontEnd.healthy).length,
        ds: [...index.zones.values()].flatMap((zone) => (zone.signer ? [zone.signer.dsText] : [])),
      },
      'redirector state applied',
    );
    return { index, answers: new AnswerCache(index, redirectorDefaults.caches.answers, this.wallSeconds) };
  }
}
