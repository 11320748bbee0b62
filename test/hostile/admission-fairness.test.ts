/**
 * Admission fairness: requests of one source waiting for their response head must not lock the other
 * sources out of a front-end. 127.0.0.2 sends twice the admission threshold of requests whose heads come
 * after 100 s (`/slow/100000`), which turns the gate to refusing; a client at 127.0.0.3 must keep its
 * bar while the attacker's surplus is refused with 503. A second front-end on the same tunnel with
 * `admission.sourceFairness: false`, attacked the same way, answers the same client 503: the attack bites,
 * so the first front-end's 200s are the fairness at work.
 */
import { connect } from 'node:net';
import test from 'ava';
import { parseHostPort, pollUntil } from '@overlay/common';
import { SITE, combine, frontEndConfig, goodTraffic, metric, startRole, startStack, withinBar, type Cleanup, type Sample } from './stack.js';

const THRESHOLD = 32;
const ATTACKERS = 2 * THRESHOLD;
const ATTACKER = '127.0.0.2';
const GOOD = '127.0.0.3';
const SLOW_HEAD = `GET /slow/100000 HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`;

/** `count` slow-head requests from the attacker's address; each one's response status as it comes (0 until then). */
function slowHeads(t: Cleanup, hostPort: string, count: number): number[] {
  const { host, port } = parseHostPort(hostPort);
  const statuses = Array<number>(count).fill(0);
  for (let i = 0; i < count; i++) {
    const socket = connect({ host, port, localAddress: ATTACKER });
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      statuses[i] = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? -1);
    });
    socket.write(SLOW_HEAD);
    t.teardown(() => socket.destroy());
  }
  return statuses;
}

const refused = (statuses: number[]) => statuses.filter((status) => status === 503).length;

/** The attack holds the gate: THRESHOLD requests queued for their heads, the rest refused. */
async function attackHolds(admin: string, statuses: number[]): Promise<boolean> {
  return (await metric(admin, 'overlay_frontend_admission_queued')) >= THRESHOLD && refused(statuses) === ATTACKERS - THRESHOLD;
}

async function goodRounds(hostPort: string, rounds = 5): Promise<Sample> {
  const samples: Sample[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await goodTraffic(hostPort, 100, 4, '/bytes/1024', GOOD));
  return combine(samples);
}

test('one source holding the admission queue does not lock another source out', async (t) => {
  const admission = { threshold: THRESHOLD };
  const stack = await startStack(t, {
    // Origin slots for every slow request: the back-end's queue is not what this test is about.
    backEndState: { limits: { adaptive: false, min: 512, max: 512, initial: 512 } },
    frontEnd: { admission },
  });
  const unfair = await startRole(t, stack.dir, 'front-end', { ...frontEndConfig(stack.tunnel), admission: { ...admission, sourceFairness: false } });
  const unfairHttp = String(unfair.ready.http);
  t.true(await pollUntil(async () => (await goodTraffic(unfairHttp, 1, 1, '/', GOOD)).ok === 1, { timeoutMs: 15_000 }));
  const baseline = await goodRounds(stack.http);

  const fairAttack = slowHeads(t, stack.http, ATTACKERS);
  const unfairAttack = slowHeads(t, unfairHttp, ATTACKERS);
  const fairAdmin = String(stack.frontEnd.ready.admin);
  const unfairAdmin = String(unfair.ready.admin);
  t.true(await pollUntil(() => attackHolds(fairAdmin, fairAttack), { timeoutMs: 15_000 }), 'the attacker fills the fair front-end to its threshold');
  t.true(await pollUntil(() => attackHolds(unfairAdmin, unfairAttack), { timeoutMs: 15_000 }), 'and the unfair one');

  const attacked = await goodRounds(stack.http);
  const lockedOut = await goodTraffic(unfairHttp, 50, 4, '/bytes/1024', GOOD);
  t.log('unattacked', baseline, 'attacked, fair', attacked, 'attacked, sourceFairness off', lockedOut);
  t.true(await attackHolds(fairAdmin, fairAttack), 'the attack still held the gate at the end');
  t.is(await metric(fairAdmin, 'overlay_frontend_admission_sources'), 1, 'the attacker alone holds the queue between good requests');
  t.true(withinBar(attacked, baseline, 250), 'the other source keeps its bar');
  t.is(lockedOut.statuses['503'], lockedOut.count, 'without fairness the other source is locked out');
});
