import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDemoPki } from '@overlay/common';
import { medianOfRounds, result, type BenchResult, type Scenario } from '../harness.js';
import { Peer } from '../measure.js';
import { freePort, h2load, requireTool, stopChild, wrk } from '../tools.js';
import { haproxy, overlay, SITE } from './gateway.js';

const ORIGIN_PEER = fileURLToPath(new URL('../peers/origin-peer.js', import.meta.url));
const SECONDS = 4;
const WARMUP_SECONDS = 3;
/** Interleaved rounds per figure; the median round stands (the machine is shared). */
const ROUNDS = 3;
const KEPT_ALIVE_CONNECTIONS = 64;
/** Clients opening a new TLS connection for every request. */
const HANDSHAKE_CONNECTIONS = 16;
/** A handshake waits for CPU on a loaded machine: give each request this long before wrk counts a timeout, s. */
const HANDSHAKE_TIMEOUT_S = 10;
const H2_CLIENTS = 16;
const H2_STREAMS = 8;
const PATH = '/bytes/1024';
// Forwarding cost, like for like with HAProxy's unlimited server: a fixed, high origin limit.
const FIXED_HIGH_LIMIT = { adaptive: false, initial: 256, max: 256 };

export const edgeScenario: Scenario = {
  name: 'edge',
  description: `TLS at the edge: handshakes/s (wrk, ${HANDSHAKE_CONNECTIONS} clients, a new connection per request), 1 KiB req/s over kept-alive TLS on HTTP/1.1 (wrk, ${KEPT_ALIVE_CONNECTIONS} connections) and HTTP/2 (h2load, ${H2_CLIENTS}×${H2_STREAMS} streams), median of ${ROUNDS} interleaved ${SECONDS} s rounds: overlay front-end (one process) → tunnel → back-end vs HAProxy terminating TLS (one thread, the same P-256 certificate) → HAProxy → origin`,
  async run(progress) {
    await requireTool('wrk', 'wrk');
    await requireTool('h2load', 'nghttp2-client');
    await requireTool('haproxy', 'haproxy');
    await requireTool('openssl', 'openssl');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-edge-'));
    const origins = await Peer.start(ORIGIN_PEER);
    const stops: Array<() => Promise<unknown>> = [];
    try {
      const pki = await createDemoPki(dir, [SITE]);
      const leaf = pki.leaves[SITE];
      const pem = join(dir, 'haproxy-site.pem');
      await writeFile(pem, `${leaf.cert}${leaf.key}`);
      const origin = await origins.call<string>('start', { id: 'origin-1' });
      const originPort = Number(new URL(origin).port);
      const [tlsPort, plainPort, innerPort, httpsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
      const inner = await haproxy(dir, 'haproxy-inner', innerPort, `127.0.0.1:${originPort}`);
      const edge = await haproxy(dir, 'haproxy-tls', tlsPort, `127.0.0.1:${innerPort}`, [], { pem, ca: pki.ca.certFile });
      // The same chain without TLS: what the machine's load does to each side, apart from TLS.
      const plainEdge = await haproxy(dir, 'haproxy-plain', plainPort, `127.0.0.1:${innerPort}`);
      stops.push(async () => {
        await stopChild(plainEdge);
        await stopChild(edge);
        await stopChild(inner);
      });
      progress('starting overlay back-end and front-end (HTTPS with the same certificate)');
      const { url, processes } = await overlay(dir, [origin], FIXED_HIGH_LIMIT, {
        listen: `127.0.0.1:${httpsPort}`,
        certificates: [{ cert: leaf.certFile, key: leaf.keyFile }],
      });
      stops.push(() => Promise.all(processes.map((p) => p.stop())));
      const overlayHttps = `https://127.0.0.1:${httpsPort}${PATH}`;
      const haproxyHttps = `https://127.0.0.1:${tlsPort}${PATH}`;
      const both = [overlayHttps, haproxyHttps];

      const seconds = (phase: 'warm-up' | 'round') => (phase === 'warm-up' ? WARMUP_SECONDS : SECONDS);
      progress('handshakes: a new TLS connection per request (overlay / HAProxy)');
      const [handshakes, haproxyHandshakes] = await medianOfRounds(
        both.map((target) => async (phase: 'warm-up' | 'round') => ({ rps: (await wrk(target, { connections: HANDSHAKE_CONNECTIONS, seconds: seconds(phase), host: SITE, headers: ['Connection: close'], timeoutSeconds: HANDSHAKE_TIMEOUT_S })).rps })),
        ROUNDS,
        (round, figures) => progress(`round ${round}/${ROUNDS}: ${figures.map((f) => Math.round(f.rps)).join(' / ')} handshakes/s`),
      );
      progress('1 KiB over kept-alive TLS, HTTP/1.1 (overlay / HAProxy), then plain HTTP/1.1 (overlay / HAProxy)');
      const [h1, haproxyH1, plain, haproxyPlain] = await medianOfRounds(
        [...both, `${url}${PATH}`, `http://127.0.0.1:${plainPort}${PATH}`].map((target) => async (phase: 'warm-up' | 'round') => {
          const { rps, p99 } = await wrk(target, { connections: KEPT_ALIVE_CONNECTIONS, seconds: seconds(phase), host: SITE });
          return { rps, p99 };
        }),
        ROUNDS,
        (round, figures) => progress(`round ${round}/${ROUNDS}: ${figures.map((f) => Math.round(f.rps)).join(' / ')} req/s`),
      );
      progress('1 KiB over kept-alive TLS, HTTP/2 (overlay / HAProxy)');
      const [h2, haproxyH2] = await medianOfRounds(
        both.map((target) => (phase: 'warm-up' | 'round') => h2load(target, { clients: H2_CLIENTS, streams: H2_STREAMS, seconds: seconds(phase), host: SITE })),
        ROUNDS,
        (round, figures) => progress(`round ${round}/${ROUNDS}: ${figures.map((f) => Math.round(f.rps)).join(' / ')} req/s`),
      );
      const haproxyName = 'HAProxy TLS (1 thread) → HAProxy → origin';
      const results: BenchResult[] = [
        result('TLS handshakes/s, new connection per 1 KiB request', 'handshakes/s', handshakes.rps, haproxyName, haproxyHandshakes.rps, 'ratio >= 0.8'),
        result('1 KiB requests/s, kept-alive TLS, HTTP/1.1', 'req/s', h1.rps, haproxyName, haproxyH1.rps, 'ratio >= 0.8'),
        result('1 KiB requests/s, kept-alive TLS, HTTP/2', 'req/s', h2.rps, haproxyName, haproxyH2.rps, 'ratio >= 0.8'),
        result('1 KiB p99 latency, kept-alive TLS, HTTP/1.1', 'ms', h1.p99, haproxyName, haproxyH1.p99),
        result('1 KiB requests/s, kept-alive TLS, HTTP/1.1', 'req/s', h1.rps, 'overlay, plain HTTP/1.1', plain.rps),
        result('1 KiB requests/s, plain HTTP/1.1', 'req/s', plain.rps, 'HAProxy → HAProxy → origin, plain', haproxyPlain.rps),
      ];
      return results;
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await origins.call('stop').catch(() => {});
      await origins.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
