import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { OVERLAY } from './helpers.js';

const KEY = 'tcp-refusal-test-tunnel-key-0123';

/**
 * Seed 000's refusal for L4 sites, through real processes: a back-end carrying a TCP site whose origin takes
 * one connection at a time, and two front-ends whose admission threshold is one queued connection, one
 * refusing with a reset (`admission.tcpRefusal: reset`), the other with the default close.
 */
test('a TCP site refuses new connections past the admission threshold with RST when asked, with FIN by default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-tcp-refusal-'));
  const processes: StartedProcess[] = [];
  const clients: Socket[] = [];
  // The origin echoes and holds every connection open.
  const origin = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originPort = (origin.address() as { port: number }).port;
  const start = async (name: string, role: string, config: object) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const started = await startProcess(process.execPath, [OVERLAY, role, '--config', file], { readyTimeoutMs: 30_000 });
    processes.push(started);
    return started;
  };
  try {
    const backEnd = await start('be', 'back-end', {
      id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0',
      state: {
        sites: { hold: { mode: 'tcp', origins: [{ url: `tcp://127.0.0.1:${originPort}`, id: 'hold' }] } },
        limits: { adaptive: false, initial: 1, min: 1 },
        queue: { queueTimeoutMs: 30_000 },
        health: { intervalMs: 60_000, timeoutMs: 1_000 },
      },
    });
    const frontEnd = (name: string, tcpRefusal?: string) => start(name, 'front-end', {
      id: name, pop: 'test', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0',
      admission: { threshold: 1, maxQueued: 1, ...(tcpRefusal ? { tcpRefusal } : {}) },
      state: {
        backEnds: { 'be-1': { tunnel: String(backEnd.ready.tunnel), key: KEY } },
        sites: { hold: { domains: ['hold.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-1'] } },
      },
    });
    const resetting = await frontEnd('fe-reset', 'reset');
    const closing = await frontEnd('fe-close');
    const portOf = (fe: StartedProcess) => Number(String((fe.ready.tcp as Record<string, string>).hold).split(':').pop());
    const queued = async () => {
      const text = await (await fetch(`http://${String(backEnd.ready.admin)}/metrics`)).text();
      return Number(/^overlay_backend_queue_length\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const open = (fe: StartedProcess) => {
      const socket = connect({ host: '127.0.0.1', port: portOf(fe) });
      clients.push(socket);
      return socket;
    };
    /** How the connection ended without the client sending anything: 'reset' (RST) or 'closed' (FIN). */
    const ending = (socket: Socket) => new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNRESET' ? 'reset' : `error ${err.code}`));
      socket.once('end', () => resolve('closed'));
    });

    // The one origin slot: carried end to end.
    const carried = open(resetting);
    await pollUntil(async () => {
      carried.write('x');
      return await new Promise<boolean>((resolve) => {
        carried.once('data', () => resolve(true));
        setTimeout(() => resolve(false), 500);
      });
    }, { timeoutMs: 15_000, intervalMs: 0 });
    // One queued connection per front-end reaches the threshold of each.
    open(resetting);
    t.true(await pollUntil(async () => (await queued()) >= 1, { timeoutMs: 10_000, intervalMs: 50 }), 'a second connection waits at the back-end');
    open(closing);
    t.true(await pollUntil(async () => (await queued()) >= 2, { timeoutMs: 10_000, intervalMs: 50 }), 'and one from the other front-end');

    t.is(await ending(open(resetting)), 'reset', 'tcpRefusal reset: RST');
    t.is(await ending(open(closing)), 'closed', 'the default: FIN');
    t.is(await queued(), 2, 'the refused ones never reached the back-end');
  } finally {
    for (const socket of clients) socket.destroy();
    await Promise.all(processes.map((p) => p.stop()));
    await new Promise((resolve) => origin.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
