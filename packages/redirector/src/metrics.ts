import { Counter, Gauge, type Registry } from '@overlay/common';

export type Transport = 'udp' | 'tcp';

/** The redirector's series; label values come from fixed sets so clients cannot grow them. */
export interface RedirectorMetrics {
  queries: Counter<'transport' | 'qtype' | 'rcode'>;
  answers: Counter<'front_end'>;
  selections: Counter<'basis'>;
  truncated: Counter<'transport'>;
  dropped: Counter<'reason'>;
  rateLimited: Counter<'action'>;
  tcpConnections: Gauge;
  stateUpdates: Counter;
}

export function createRedirectorMetrics(registry: Registry): RedirectorMetrics {
  const registers = [registry];
  return {
    queries: new Counter({
      name: 'overlay_dns_queries_total',
      help: 'Queries answered, by transport, query type and response code',
      labelNames: ['transport', 'qtype', 'rcode'],
      registers,
    }),
    answers: new Counter({
      name: 'overlay_dns_answers_total',
      help: 'Times a front-end was named in an A/AAAA answer',
      labelNames: ['front_end'],
      registers,
    }),
    selections: new Counter({
      name: 'overlay_dns_selections_total',
      help: 'Site answers by how the front-ends were chosen (preferred-pop, any-healthy, overloaded, no-healthy, none-assigned)',
      labelNames: ['basis'],
      registers,
    }),
    truncated: new Counter({
      name: 'overlay_dns_truncated_total',
      help: 'Responses sent with TC set because they did not fit the UDP payload size',
      labelNames: ['transport'],
      registers,
    }),
    dropped: new Counter({
      name: 'overlay_dns_dropped_total',
      help: 'Messages given no answer: unreadable, a response (QR set), internal-error (rate limiting counts apart)',
      labelNames: ['reason'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'overlay_dns_rate_limited_total',
      help: 'UDP responses over the rate limit, dropped or slipped as truncated',
      labelNames: ['action'],
      registers,
    }),
    tcpConnections: new Gauge({ name: 'overlay_dns_tcp_connections', help: 'Open DNS-over-TCP connections', registers }),
    stateUpdates: new Counter({ name: 'overlay_dns_state_updates_total', help: 'State updates applied', registers }),
  };
}
