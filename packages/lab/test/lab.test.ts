import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLab, sweepLabs, type Lab } from '@overlay/lab';
import { BULK_SENDER, ECHO_SERVER, ORDER_SINK, ORDER_SOURCE, RATE_SINK, echoTiming, resultOf } from './probes.js';

// Real namespaces: these tests need root and fail (never skip) without it.
const LAB = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const STATE_DIR = process.env.OVERLAY_LAB_STATE_DIR ?? '/run/overlay-lab';

function labNamespaces(id: string): string[] {
  const { stdout } = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return stdout.split('\n').map((line) => line.split(' ')[0]).filter((name) => name.startsWith(`ovl${id}-`));
}

async function echoServer(lab: Lab, host: string, port: number): Promise<void> {
  await lab.start(host, process.execPath, ['-e', ECHO_SERVER, String(port)]);
}

test.serial('the long leg adds its delay each way; hosts on one side reach each other without it', async (t) => {
  const delayMs = 40;
  const lab = await startLab({ delayMs });
  try {
    await echoServer(lab, 'back-end', 9000);
    await echoServer(lab, 'pop-a', 9000);
    await echoServer(lab, 'origin-2', 9000);

    // Same side first, while nothing has crossed yet: none of it may enter the long leg.
    const near = await echoTiming(lab, 'client', 'pop-a', 9000);
    const far = await echoTiming(lab, 'back-end', 'origin-2', 9000);
    // Generous bounds for a busy machine: crossing the long leg would take at least 2 × delayMs.
    for (const [what, timing] of [['near↔near', near], ['far↔far', far]] as const) {
      t.true(timing.rttMs < delayMs && timing.connectMs < 2 * delayMs, `${what} ${JSON.stringify(timing)}`);
    }
    const idle = await lab.linkCounters();
    t.is(idle.nearToFar.packets + idle.farToNear.packets + idle.stray, 0, 'same-side traffic never enters the long leg');

    const across = await echoTiming(lab, 'client', 'back-end', 9000);
    t.true(across.connectMs >= 2 * delayMs, `near→far TCP connect ${across.connectMs} ms`);
    t.true(across.rttMs >= 2 * delayMs, `near→far echo ${across.rttMs} ms`);
    t.true(across.rttMs < 4 * delayMs, `near→far echo ${across.rttMs} ms is one round trip, not two`);
    const crossed = await lab.linkCounters();
    t.true(crossed.nearToFar.packets >= 3 && crossed.farToNear.packets >= 2, 'cross traffic went through the forwarder both ways');
  } finally {
    await lab.close();
  }
});

test.serial('a bulk transfer across a rate-capped long leg runs at the cap (±25 %)', async (t) => {
  const rateMbit = 20;
  const lab = await startLab({ delayMs: 20, rateMbit });
  try {
    const sink = await lab.start('origin-1', process.execPath, ['-e', RATE_SINK, '9001']);
    const closed = once(sink.child, 'close');
    await lab.exec('client', process.execPath, ['-e', BULK_SENDER, lab.host('origin-1').address, '9001'], { timeoutMs: 15_000 });
    const { bitsPerSecond } = await resultOf<{ bitsPerSecond: number }>(closed, sink.output);
    const mbit = bitsPerSecond / 1e6;
    t.log(`${mbit.toFixed(2)} Mbit/s through a ${rateMbit} Mbit/s long leg`);
    t.true(mbit >= rateMbit * 0.75 && mbit <= rateMbit * 1.25, `measured ${mbit.toFixed(2)} Mbit/s against a ${rateMbit} Mbit/s cap`);
    const counters = await lab.linkCounters();
    t.true(counters.nearToFar.bytes > (rateMbit * 1e6 * 2) / 8, 'the transfer crossed the forwarder');
  } finally {
    await lab.close();
  }
});

test.serial('two labs at once get their own namespaces, addresses and delays', async (t) => {
  const [short, long] = await Promise.all([startLab({ delayMs: 5 }), startLab({ delayMs: 60 })]);
  try {
    t.not(short.id, long.id);
    t.not(short.subnets.near, long.subnets.near);
    t.not(short.host('client').namespace, long.host('client').namespace);
    await Promise.all([echoServer(short, 'back-end', 9000), echoServer(long, 'back-end', 9000)]);
    const [fast, slow] = await Promise.all([echoTiming(short, 'client', 'back-end', 9000), echoTiming(long, 'client', 'back-end', 9000)]);
    t.true(fast.rttMs >= 10 && fast.rttMs < 60, `5 ms lab: round trip ${fast.rttMs} ms`);
    t.true(slow.rttMs >= 120, `60 ms lab: round trip ${slow.rttMs} ms`);
  } finally {
    await Promise.all([short.close(), long.close()]);
  }
});

test.serial('jitter varies the delay but never reorders packets', async (t) => {
  const delayMs = 5;
  const jitterMs = 30;
  const lab = await startLab({ delayMs, jitterMs });
  try {
    const count = 300;
    const sink = await lab.start('back-end', process.execPath, ['-e', ORDER_SINK, '9002', String(count)]);
    const closed = once(sink.child, 'close');
    await lab.exec('client', process.execPath, ['-e', ORDER_SOURCE, lab.host('back-end').address, '9002', String(count)]);
    const result = await resultOf<{ received: number; inOrder: boolean; minMs: number; maxMs: number }>(closed, sink.output);
    t.is(result.received, count);
    t.true(result.inOrder, 'datagrams arrive in the order sent');
    t.true(result.minMs >= delayMs, `every datagram waited at least the delay (min ${result.minMs} ms)`);
    t.true(result.maxMs - result.minMs >= jitterMs / 2, `delays spread over ${result.minMs}..${result.maxMs} ms`);
  } finally {
    await lab.close();
  }
});

test.serial('close() stops what ran in the lab and leaves no namespace or state behind; it is idempotent', async (t) => {
  const lab = await startLab({ near: ['client'], far: ['server'] });
  const child = lab.spawn('server', 'sleep', ['60']);
  await once(child, 'spawn');
  t.deepEqual(labNamespaces(lab.id).sort(), [`ovl${lab.id}-client`, `ovl${lab.id}-router`, `ovl${lab.id}-server`]);
  await Promise.all([lab.close(), lab.close()]);
  await lab.close();
  t.deepEqual(labNamespaces(lab.id), []);
  t.not(child.exitCode ?? child.signalCode, null, 'the spawned process is gone');
  t.false((await readdir(STATE_DIR)).some((file) => file === `${parseInt(lab.id.slice(0, 2), 16)}.json`), 'no state file left');
  await t.throwsAsync(lab.exec('client', 'true', []), { message: /closed/ });
});

test.serial('sweepLabs removes the namespaces of a lab whose owner crashed, and spares live labs', async (t) => {
  const live = await startLab({ near: ['a'], far: ['b'] });
  try {
    // A lab owner that dies without closing: SIGKILL right after its lab is up.
    const owner = spawn(process.execPath, ['--input-type=module', '-e', `const { startLab } = await import(${JSON.stringify(LAB)}); const lab = await startLab({ near: ['a'], far: ['b'] }); console.log(lab.id); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [id] = (await once(createInterface({ input: owner.stdout! }), 'line')) as [string];
    t.is(labNamespaces(id).length, 3);
    owner.kill('SIGKILL');
    await once(owner, 'exit');
    const removed = await sweepLabs();
    t.true(removed.includes(`ovl${id}-a`), `swept ${removed.join(', ')}`);
    t.deepEqual(labNamespaces(id), []);
    t.is(labNamespaces(live.id).length, 3, 'the live lab is untouched');
  } finally {
    await live.close();
  }
});

test('startLab fails with a clear message when not root', (t) => {
  const script = `import(${JSON.stringify(LAB)}).then((m) => m.startLab()).then(() => console.log('started'), (e) => console.log(e.code, e.message))`;
  const { stdout, status } = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
  t.is(status, 0);
  t.regex(stdout, /ERR_LAB_PREREQUISITE .*root/);
});
