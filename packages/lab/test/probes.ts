import type { Lab } from '@overlay/lab';

/** Small Node programs run inside lab namespaces (`node -e`), each printing one JSON line. */

/** TCP echo server on the port in argv[1]; prints the ready line once listening. */
export const ECHO_SERVER = `
const net = require('node:net');
net.createServer((s) => s.pipe(s)).listen(Number(process.argv[1]), () => console.log(JSON.stringify({ msg: 'ready' })));
`;

/** Connects to argv[1]:argv[2], then five 1-byte echoes: {connectMs, rttMs} with the fastest echo. */
const ECHO_PROBE = `
const net = require('node:net');
const start = performance.now();
const rtts = [];
const socket = net.connect({ host: process.argv[1], port: Number(process.argv[2]), noDelay: true }, () => {
  const connectMs = performance.now() - start;
  const ping = () => {
    const sent = performance.now();
    socket.write('x');
    socket.once('data', () => {
      rtts.push(performance.now() - sent);
      if (rtts.length < 5) return ping();
      console.log(JSON.stringify({ connectMs, rttMs: Math.min(...rtts) }));
      socket.destroy();
    });
  };
  ping();
});
`;

/**
 * Counts bytes received on port argv[1]; prints the rate between 1 s and 3 s after the first byte
 * (slow start over), in bit/s, then exits.
 */
export const RATE_SINK = `
const net = require('node:net');
let first = 0, total = 0, mark;
net.createServer((socket) => socket.on('data', (chunk) => {
  const now = performance.now();
  if (!first) first = now;
  total += chunk.length;
  if (!mark && now - first >= 1000) mark = { at: now, total };
  if (mark && now - first >= 3000) {
    console.log(JSON.stringify({ bitsPerSecond: ((total - mark.total) * 8) / ((now - mark.at) / 1000) }));
    process.exit(0);
  }
})).listen(Number(process.argv[1]), () => console.log(JSON.stringify({ msg: 'ready' })));
`;

/** Writes to argv[1]:argv[2] as fast as TCP allows until the peer goes away (or 10 s). */
export const BULK_SENDER = `
const net = require('node:net');
const chunk = Buffer.alloc(64 * 1024, 7);
const socket = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
const pump = () => { while (socket.write(chunk)); };
socket.on('connect', pump).on('drain', pump).on('error', () => process.exit(0)).on('close', () => process.exit(0));
setTimeout(() => process.exit(0), 10_000);
`;

/**
 * UDP on port argv[1]: receives argv[2] datagrams {seq, sentNs} (sentNs from the shared monotonic clock),
 * prints {received, inOrder, minMs, maxMs} of one-way delays, then exits (or after 5 s).
 */
export const ORDER_SINK = `
const dgram = require('node:dgram');
const expected = Number(process.argv[2]);
const seqs = [], delays = [];
const socket = dgram.createSocket('udp4');
const done = () => {
  const inOrder = seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]);
  console.log(JSON.stringify({ received: seqs.length, inOrder, minMs: Math.min(...delays), maxMs: Math.max(...delays) }));
  process.exit(0);
};
socket.on('message', (message) => {
  const { seq, sentNs } = JSON.parse(message.toString());
  seqs.push(seq);
  delays.push(Number(process.hrtime.bigint() - BigInt(sentNs)) / 1e6);
  if (seqs.length === expected) done();
});
socket.bind(Number(process.argv[1]), () => console.log(JSON.stringify({ msg: 'ready' })));
setTimeout(done, 5_000);
`;

/** Sends argv[3] datagrams to argv[1]:argv[2], one per millisecond. */
export const ORDER_SOURCE = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
const count = Number(process.argv[3]);
let seq = 0;
const timer = setInterval(() => {
  socket.send(JSON.stringify({ seq, sentNs: String(process.hrtime.bigint()) }), Number(process.argv[2]), process.argv[1]);
  if (++seq === count) { clearInterval(timer); setTimeout(() => socket.close(), 100); }
}, 1);
`;

export interface EchoTiming {
  connectMs: number;
  /** The fastest of five echo round trips: the path's delay, with as little scheduling noise as possible. */
  rttMs: number;
}

/** Connect time and echo round trip from `from` to an echo server on `to`. */
export async function echoTiming(lab: Lab, from: string, to: string, port: number): Promise<EchoTiming> {
  const { stdout } = await lab.exec(from, process.execPath, ['-e', ECHO_PROBE, lab.host(to).address, String(port)], { timeoutMs: 10_000 });
  return JSON.parse(stdout) as EchoTiming;
}

/** Waits for a started probe to exit and parses the line it printed after its ready line. */
export async function resultOf<T>(closed: Promise<unknown>, output: string[]): Promise<T> {
  await closed;
  if (!output[0]) throw new Error('the probe printed no result');
  return JSON.parse(output[0]) as T;
}
