import type { AdmissionGate } from '@overlay/admission';
import { defaultBackendSelectorOptions, evaluateRoutes } from '@overlay/balancer';
import type { HttpCache } from '@overlay/cache';
import { Counter, Gauge, type Registry } from '@overlay/common';
import type { Metric } from 'prom-client';
import { byteCountsBySite, Tally, type ByteCounts } from '@overlay/stream-heads';
import type { BackEndRoute } from './backends.js';

export interface MetricSources {
  routes: () => BackEndRoute[];
  gate: AdmissionGate;
  cache: HttpCache | undefined;
}

/** The front-end's series (docs/front-end.md "Metrics"); tunnel figures are read at scrape time. */
export class FrontEndMetrics {
  readonly requests: Counter<'site' | 'status' | 'priority' | 'cache'>;
  readonly bytes: Counter<'site' | 'direction'>;
  readonly admissionRefusals: Counter<'reason'>;
  readonly retries: Counter<'backend' | 'code'>;
  readonly backEndFailures: Counter<'backend' | 'code'>;
  readonly tcpConnections: Counter<'site' | 'outcome'>;
  readonly upgrades: Counter<'site' | 'status'>;
  /** By priority: `observe(String(priority), seconds)`. */
  readonly responseHeadSeconds: TalliedHistogram;
  /** `bytes` for one site, shared by all its connections. */
  readonly bytesOf: (site: string) => ByteCounts;
  readonly clientRefusals: Counter<'reason'>;
  private readonly answered = new Tally<'site' | 'status' | 'priority' | 'cache'>();
  private readonly carried = new Tally<'site' | 'direction'>();

  constructor(registry: Registry, sources: MetricSources) {
    const registers = [registry];
    const { answered, carried } = this;
    this.clientRefusals = new Counter({
      name: 'overlay_frontend_client_refusals_total',
      help: 'Client connections cut or requests refused before reaching a site: head-slot-evicted, duplicate-host, malformed',
      labelNames: ['reason'],
      registers,
    });
    this.requests = new Counter({
      name: 'overlay_frontend_requests_total',
      help: 'HTTP requests answered, by site, status (499: client left first), priority and cache result',
      labelNames: ['site', 'status', 'priority', 'cache'],
      registers,
      collect() {
        answered.drainInto(this);
      },
    });
    this.bytes = new Counter({
      name: 'overlay_frontend_body_bytes_total',
      help: 'Body bytes carried: direction "in" from clients, "out" to clients (HTTP bodies, upgraded and TCP streams)',
      labelNames: ['site', 'direction'],
      registers,
      collect() {
        carried.drainInto(this);
      },
    });
    this.admissionRefusals = new Counter({
      name: 'overlay_frontend_admission_refusals_total',
      help: 'Requests refused with 503 by the admission gate (overloaded: new clients; full: everyone)',
      labelNames: ['reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'overlay_frontend_retries_total',
      help: 'Requests sent again to another back-end after this one failed them, by failed back-end and error code',
      labelNames: ['backend', 'code'],
      registers,
    });
    this.backEndFailures = new Counter({
      name: 'overlay_frontend_backend_failures_total',
      help: 'Exchanges that ended in a front-end error answer (502/503/504), by last back-end tried and code',
      labelNames: ['backend', 'code'],
      registers,
    });
    this.tcpConnections = new Counter({
      name: 'overlay_frontend_tcp_connections_total',
      help: 'Client connections to TCP-mode sites, by outcome (carried, refused; idle: carried ones cut by the idle deadline)',
      labelNames: ['site', 'outcome'],
      registers,
    });
    this.upgrades = new Counter({
      name: 'overlay_frontend_upgrades_total',
      help: 'Upgrade (WebSocket) requests, by the status answered',
      labelNames: ['site', 'status'],
      registers,
    });
    this.responseHeadSeconds = new TalliedHistogram(
      'overlay_frontend_response_head_seconds',
      'Time from a request head to the response head reaching the client, by priority',
      'priority',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry,
    );
    // Counted per request (and per WebSocket chunk): into plain numbers, moved to the counter when read.
    this.bytesOf = byteCountsBySite({ inc: (labels, bytes) => carried.add(`${labels.site}\n${labels.direction}`, labels, bytes) });
    registerLiveGauges(registry, sources);
  }

  /** One relayed request answered: `requests` without hashing labels on the request path. */
  countRequest(site: string, status: string, priority: string, cache: string): void {
    this.answered.add(`${site}\n${status}\n${priority}\n${cache}`, { site, status, priority, cache });
  }
}

interface HistogramSeries {
  /** Observations per bucket (not cumulative), in the order of the upper bounds. */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram over one label whose observations are counted in plain numbers: prom-client's `observe`
 * validates and hashes its label object (0.5–1 µs) on every call, once per request here. It is read
 * through the registry in prom-client's own shape (values named `_bucket`, `_sum`, `_count`; summed
 * across cluster workers), computed when read.
 */
export class TalliedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(readonly name: string, readonly help: string, private readonly label: string, private readonly upperBounds: readonly number[], registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labelValue: string, value: number): void {
    let series = this.series.get(labelValue);
    if (!series) {
      series = { buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(labelValue, series);
    }
    const bucket = this.upperBounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) series.buckets[bucket]++;
    series.sum += value;
    series.count++;
  }

  /** The text exposition's form: the series' label apart (`sharedLabels`), as prom-client writes it. */
  getForPromString() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; exemplar?: null }> = [];
    for (const [labelValue, { buckets, sum, count }] of this.series) {
      const sharedLabels = { [this.label]: labelValue };
      const bucket = (le: string | number, value: number) => values.push({ metricName: `${this.name}_bucket`, labels: { le }, sharedLabels, value, exemplar: null });
      let below = 0;
      this.upperBounds.forEach((le, i) => bucket(le, (below += buckets[i])));
      bucket('+Inf', count);
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels, value: sum }, { metricName: `${this.name}_count`, labels: {}, sharedLabels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The JSON form (cluster workers): every value with all its labels. */
  get() {
    const metric = this.getForPromString();
    return { ...metric, values: metric.values.map(({ sharedLabels, labels, ...value }) => ({ ...value, labels: { ...labels, ...sharedLabels } })) };
  }

  reset(): void {
    this.series.clear();
  }
}

type RouteGauge = { name: string; help: string; value: (route: BackEndRoute) => number };

const ROUTE_GAUGES: RouteGauge[] = [
  { name: 'overlay_frontend_tunnel_rtt_ms', help: 'Smoothed tunnel RTT per back-end, ms (-1 before a sample)', value: (route) => route.client.qos().rttMs },
  { name: 'overlay_frontend_tunnel_jitter_ms', help: 'Tunnel RTT mean deviation per back-end, ms (-1 before a sample)', value: (route) => route.client.qos().jitterMs },
  { name: 'overlay_frontend_tunnel_connections', help: 'TCP connections the tunnel to each back-end uses', value: (route) => route.client.qos().connections },
  { name: 'overlay_frontend_tunnel_sent_bytes', help: 'Bytes written on the tunnel to each back-end (all connections, since start)', value: (route) => route.client.qos().delivery.sentBytes },
  { name: 'overlay_frontend_tunnel_acked_bytes', help: 'Of those, bytes the back-end acknowledged (ACK frames)', value: (route) => route.client.qos().delivery.ackedBytes },
  { name: 'overlay_frontend_tunnel_delivery_bytes_per_second', help: 'Bottleneck delivery rate the tunnel measured from acknowledgements, bytes/s', value: (route) => route.client.qos().delivery.deliveryBytesPerSec },
  { name: 'overlay_frontend_tunnel_cwnd_bytes', help: 'Congestion window of the tunnel (bytes in flight allowed)', value: (route) => route.client.qos().delivery.cwndBytes },
  { name: 'overlay_frontend_tunnel_up', help: '1 while the tunnel to the back-end is connected', value: (route) => (route.connected ? 1 : 0) },
  { name: 'overlay_frontend_tunnel_reconnects', help: 'Tunnel connections lost and re-dialled since start, per back-end', value: (route) => route.client.reconnects },
  { name: 'overlay_frontend_backend_in_flight', help: 'Requests in flight on each back-end route, and upgrades and TCP connections until they turn raw (compare highWater)', value: (route) => route.inFlight },
  { name: 'overlay_frontend_backend_held_streams', help: 'Raw streams open on each back-end route: upgraded WebSockets and TCP-mode connections', value: (route) => route.held },
  { name: 'overlay_frontend_backend_peer_load', help: 'Load the back-end reports for itself, 0..1 (-1 unknown)', value: (route) => route.client.qos().peer?.load ?? -1 },
];

function registerLiveGauges(registry: Registry, sources: MetricSources): void {
  const registers = [registry];
  for (const spec of ROUTE_GAUGES) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const route of sources.routes()) this.set({ backend: route.id }, spec.value(route));
      },
    });
  }
  new Gauge({
    name: 'overlay_frontend_backend_link_cost_ms',
    help: 'Link cost the back-end selector gives each route (delay with jitter, loss and peer load, before requests in flight), ms; -1 while the route is out',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      for (const { route, quality } of evaluateRoutes(sources.routes(), defaultBackendSelectorOptions)) {
        this.set({ backend: route.id }, Number.isFinite(quality) ? quality : -1);
      }
    },
  });
  const reported = new WeakMap<BackEndRoute, number[]>();
  new Counter({
    name: 'overlay_frontend_tunnel_ring_bytes_total',
    help: 'Bytes the front-end sent per priority ring on each back-end tunnel (blender ring 0 highest)',
    labelNames: ['backend', 'ring'],
    registers,
    collect() {
      for (const route of sources.routes()) {
        const last = reported.get(route) ?? [];
        const now = route.ringBytes();
        now.forEach((bytes, ring) => {
          const delta = bytes - (last[ring] ?? 0);
          if (delta > 0) this.inc({ backend: route.id, ring: String(ring) }, delta);
        });
        reported.set(route, now);
      }
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers, collect() { this.set(read()); } });
  gauge('overlay_frontend_admission_queued', 'Admitted requests waiting for their response head', () => sources.gate.queued);
  gauge('overlay_frontend_admission_sources', 'Client sources (address, IPv6 /64) holding queued requests', () => sources.gate.sources);
  gauge('overlay_frontend_admission_refusing', '1 while the admission gate refuses new clients', () => (sources.gate.state === 'refusing' ? 1 : 0));
  gauge('overlay_frontend_cache_bytes', 'Bytes held by the response cache', () => sources.cache?.bytes ?? 0);
  gauge('overlay_frontend_cache_entries', 'Responses held by the response cache', () => sources.cache?.entries ?? 0);
}
