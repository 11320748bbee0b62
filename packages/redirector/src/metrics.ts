import { Counter, Gauge, type Registry } from '@overlay/common';

export type Transport = 'udp' | 'tcp';

/** One series' count not yet handed to prom-client: a hot path may hold it and bump `count` itself. */
export interface Tally {
  count: number;
}

interface LabeledTally<L extends string> extends Tally {
  labels: Record<L, string>;
}

/** Label value → the next label's level, ending in tallies: found without joining the values into a key. */
type Level<L extends string> = Map<string, Level<L> | LabeledTally<L>>;

/**
 * A prom-client counter fed from plain numbers. prom-client hashes the label set on every `inc`, which
 * costs more than answering a cached query; here a query only bumps a number found by its label values,
 * and the sums reach prom-client when the registry is read (its `collect` hook, run by /metrics and `get()`).
 * A label set gets its series on its first count, as with `inc`.
 */
export class TallyCounter<L extends string = never> {
  readonly counter: Counter<L>;
  private readonly labelNames: readonly L[];
  /** Bounded by the label values, which come from fixed sets (or the state's front-end ids). */
  private readonly root: Level<L> = new Map();
  private readonly tallies: Array<LabeledTally<L>> = [];

  constructor(config: { name: string; help: string; labelNames?: readonly L[]; registers: Registry[] }) {
    this.labelNames = config.labelNames ?? [];
    const flush = (): void => this.flush();
    this.counter = new Counter<L>({ ...config, labelNames: this.labelNames, collect: flush });
  }

  inc(labels: Record<L, string> = {} as Record<L, string>): void {
    this.tally(labels).count += 1;
  }

  /** The tally of one label set, made on first use. */
  tally(labels: Record<L, string>): Tally {
    let level = this.root;
    const last = this.labelNames.length - 1;
    for (let i = 0; i < last; i++) {
      const value = labels[this.labelNames[i] as L];
      let next = level.get(value) as Level<L> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = last < 0 ? '' : labels[this.labelNames[last] as L];
    const tally = level.get(value) as LabeledTally<L> | undefined;
    if (tally !== undefined) return tally;
    const created = { labels: { ...labels }, count: 0 };
    level.set(value, created);
    this.tallies.push(created);
    return created;
  }

  private flush(): void {
    for (const tally of this.tallies) {
      if (tally.count === 0) continue;
      this.counter.inc(tally.labels, tally.count);
      tally.count = 0;
    }
  }
}

/** The redirector's series; label values come from fixed sets so clients cannot grow them. */
export interface RedirectorMetrics {
  queries: TallyCounter<'transport' | 'qtype' | 'rcode'>;
  answers: TallyCounter<'front_end'>;
  selections: TallyCounter<'basis'>;
  truncated: TallyCounter<'transport'>;
  dropped: TallyCounter<'reason'>;
  rateLimited: TallyCounter<'action'>;
  tcpConnections: Gauge;
  tcpClosed: TallyCounter<'reason'>;
  stateUpdates: TallyCounter;
}

export function createRedirectorMetrics(registry: Registry): RedirectorMetrics {
  const registers = [registry];
  return {
    queries: new TallyCounter({
      name: 'overlay_dns_queries_total',
      help: 'Queries answered, by transport, query type and response code',
      labelNames: ['transport', 'qtype', 'rcode'],
      registers,
    }),
    answers: new TallyCounter({
      name: 'overlay_dns_answers_total',
      help: 'Times a front-end was named in an A/AAAA answer',
      labelNames: ['front_end'],
      registers,
    }),
    selections: new TallyCounter({
      name: 'overlay_dns_selections_total',
      help: 'Site answers by how the front-ends were chosen (preferred-pop, any-healthy, overloaded, no-healthy, none-assigned)',
      labelNames: ['basis'],
      registers,
    }),
    truncated: new TallyCounter({
      name: 'overlay_dns_truncated_total',
      help: 'Responses sent with TC set because they did not fit the UDP payload size',
      labelNames: ['transport'],
      registers,
    }),
    dropped: new TallyCounter({
      name: 'overlay_dns_dropped_total',
      help: 'Messages given no answer: unreadable, a response (QR set), internal-error (rate limiting counts apart)',
      labelNames: ['reason'],
      registers,
    }),
    rateLimited: new TallyCounter({
      name: 'overlay_dns_rate_limited_total',
      help: 'UDP responses over the rate limit, dropped or slipped as truncated',
      labelNames: ['action'],
      registers,
    }),
    tcpConnections: new Gauge({ name: 'overlay_dns_tcp_connections', help: 'Open DNS-over-TCP connections', registers }),
    tcpClosed: new TallyCounter({
      name: 'overlay_dns_tcp_closed_total',
      help: 'DNS-over-TCP connections the server closed: evicted (the idlest, to make room) or expired (idle or message deadline)',
      labelNames: ['reason'],
      registers,
    }),
    stateUpdates: new TallyCounter({ name: 'overlay_dns_state_updates_total', help: 'State updates applied', registers }),
  };
}

/** What sending one answer counts: the query (type, rcode), each front-end named, and how they were chosen. */
export function answerTallies(
  metrics: RedirectorMetrics,
  qtype: string,
  answer: { rcode: string; frontEnds: readonly string[]; basis?: string | undefined },
): Record<Transport, Tally[]> {
  const shared = answer.frontEnds.map((frontEnd) => metrics.answers.tally({ front_end: frontEnd }));
  if (answer.basis) shared.push(metrics.selections.tally({ basis: answer.basis }));
  const perTransport = (transport: Transport): Tally[] => [metrics.queries.tally({ transport, qtype, rcode: answer.rcode }), ...shared];
  return { udp: perTransport('udp'), tcp: perTransport('tcp') };
}
