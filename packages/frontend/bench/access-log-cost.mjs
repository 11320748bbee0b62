// The per-request cost of request ids, trace context and the access log line, against a line through the
// process logger (pino with redaction, one write per line). node packages/frontend/bench/access-log-cost.mjs
// (after pnpm build); prints the median of three rounds in µs per request.
import { openSync } from 'node:fs';
import { createAccessLog, createLogger } from '@overlay/common';
import { requestTrace, withTrace } from '@overlay/frontend';
const fd = openSync('/dev/null', 'w');
const log = createLogger('front-end', { destination: fd });
const headers = { host: 'shop.demo.test', 'user-agent': 'curl/8', accept: '*/*' };
const head = [['host', 'shop.demo.test'], ['user-agent', 'curl/8'], ['accept', '*/*'], ['x-forwarded-for', '10.1.2.3']];
function once(write) {
  const trace = requestTrace(headers);
  const forwarded = withTrace(head, trace);
  write({ client: '10.1.2.3', method: 'GET', host: 'shop.demo.test', path: '/bytes/1024', status: 200, bytesIn: 0, bytesOut: 1024, priority: 2, cache: 'MISS', backEnd: 'be-1', origin: '127.0.0.1:9001', durationMs: 1.234, requestId: trace.requestId, traceparent: trace.traceparent });
  return forwarded.length;
}
function measure(label, write, n = 200_000) {
  for (let i = 0; i < 20_000; i++) once(write);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once(write);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  return us;
}
const rounds = [];
for (let r = 0; r < 3; r++) {
  rounds.push({
    ids: measure('ids', () => undefined),
    processLogger: measure('process logger line', (entry) => log.info(entry, 'access')),
    batched: measure('access log batched', createAccessLog('front-end', log, { enabled: true, sample: 1, flushMs: 1000 }, { destination: fd }).write),
    unbatched: measure('access log unbatched', createAccessLog('front-end', log, { enabled: true, sample: 1, flushMs: 0 }, { destination: fd }).write),
    sampled: measure('sampled 0.1', createAccessLog('front-end', log, { enabled: true, sample: 0.1, flushMs: 1000 }, { destination: fd }).write),
  });
}
const median = (key) => rounds.map((r) => r[key]).sort((a, b) => a - b)[1].toFixed(2);
console.log(JSON.stringify({ idsAndTraceOnly: median('ids'), lineThroughProcessLogger: median('processLogger'), accessLogUnbatched: median('unbatched'), accessLogBatched: median('batched'), accessLogSampled10pct: median('sampled') }));
process.exit(0);
