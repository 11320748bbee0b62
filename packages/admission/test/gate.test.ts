import test from 'ava';
import { AdmissionGate, type Admission, type AdmissionTicket } from '@overlay/admission';

const NEW = { established: false, source: 'a' };
const ESTABLISHED = { established: true, source: 'a' };
const fromSource = (source: string) => ({ established: false, source });

function ticketOf(admission: Admission): AdmissionTicket {
  if (!admission.admitted) throw new Error(`refused: ${admission.reason}`);
  return admission.ticket;
}

test('admits until queued work reaches the threshold, then refuses new clients fast', (t) => {
  const gate = new AdmissionGate({ threshold: 4, maxQueued: 6 }, () => 0);
  const tickets = [0, 1, 2, 3].map(() => ticketOf(gate.admit(NEW)));
  t.is(gate.queued, 4);
  t.is(gate.state, 'refusing');
  const refused = gate.admit(NEW);
  t.false(refused.admitted);
  t.like(refused, { reason: 'overloaded' });
  t.is(tickets.length, 4);
});

test('established clients still get in past the threshold, up to maxQueued', (t) => {
  const gate = new AdmissionGate({ threshold: 4, maxQueued: 6 }, () => 0);
  for (let i = 0; i < 4; i++) ticketOf(gate.admit(NEW));
  ticketOf(gate.admit(ESTABLISHED));
  ticketOf(gate.admit(ESTABLISHED));
  t.is(gate.queued, 6);
  t.like(gate.admit(ESTABLISHED), { admitted: false, reason: 'full' });
  t.like(gate.admit(NEW), { admitted: false, reason: 'full' });
});

test('re-opens only below threshold × reopenRatio: no flapping around the threshold', (t) => {
  const gate = new AdmissionGate({ threshold: 8, reopenRatio: 0.5, maxQueued: 20 }, () => 0);
  const tickets = Array.from({ length: 8 }, () => ticketOf(gate.admit(NEW)));
  t.is(gate.state, 'refusing');
  // Queue hovers just under the threshold: still refusing.
  tickets.pop()?.start();
  t.false(gate.admit(NEW).admitted);
  tickets.push(ticketOf(gate.admit(ESTABLISHED)));
  tickets.pop()?.finish();
  tickets.pop()?.finish();
  tickets.pop()?.finish();
  t.is(gate.queued, 5);
  t.false(gate.admit(NEW).admitted);
  tickets.pop()?.start();
  t.is(gate.queued, gate.reopenLevel);
  t.is(gate.state, 'open');
  // Open again until the threshold is reached again.
  for (let i = 0; i < 4; i++) tickets.push(ticketOf(gate.admit(NEW)));
  t.is(gate.state, 'refusing');
});

test('counts queued and in-flight work; tickets are idempotent', (t) => {
  const gate = new AdmissionGate({}, () => 0);
  const a = ticketOf(gate.admit(NEW));
  const b = ticketOf(gate.admit(NEW));
  a.start();
  a.start();
  t.deepEqual([gate.queued, gate.inFlight], [1, 1]);
  a.finish();
  a.finish();
  a.start();
  b.finish(); // dropped before it started
  t.deepEqual([gate.queued, gate.inFlight], [0, 0]);
});

test('Retry-After: time for the queue to drain to the reopen level at the measured rate, bounded', (t) => {
  let now = 0;
  const gate = new AdmissionGate({ threshold: 100, reopenRatio: 0.5, maxQueued: 200, minRetryAfterS: 1, maxRetryAfterS: 30 }, () => now);
  const tickets = Array.from({ length: 100 }, () => ticketOf(gate.admit(NEW)));
  const refused = gate.admit(NEW);
  t.like(refused, { admitted: false, retryAfterSeconds: 30 }, 'nothing drained yet: the maximum');
  // 10 requests/s leave the queue for two seconds.
  for (let i = 0; i < 20; i++) {
    now += 100;
    tickets.shift()?.start();
  }
  now = 2000;
  t.is(gate.queued, 80);
  // (80 − 50) / 10 per second = 3 s
  t.like(gate.admit(NEW), { admitted: false, retryAfterSeconds: 3 });
  t.is(gate.retryAfterSeconds(), 3);
});

test('while refusing, a newcomer from a source holding little of the queue is admitted; the heaviest is refused', (t) => {
  // reopen level 6: two sources holding queued work share it 3 and 3.
  const gate = new AdmissionGate({ threshold: 8, reopenRatio: 0.75, maxQueued: 20 }, () => 0);
  const heavy = Array.from({ length: 8 }, () => ticketOf(gate.admit(fromSource('heavy'))));
  t.is(gate.state, 'refusing');
  t.like(gate.admit(fromSource('heavy')), { admitted: false, reason: 'overloaded' });
  t.is(gate.fairShare('light'), 3);
  const light = [0, 1, 2].map(() => ticketOf(gate.admit(fromSource('light'))));
  t.like(gate.admit(fromSource('light')), { admitted: false, reason: 'overloaded' }, 'at its share, the light source waits too');
  t.deepEqual([gate.queuedFrom('heavy'), gate.queuedFrom('light'), gate.sources], [8, 3, 2]);
  // A third source: the shares shrink to 2 each; the newcomer is admitted, light (3) is now over its share.
  t.is(gate.fairShare('third'), 2);
  ticketOf(gate.admit(fromSource('third')));
  t.like(gate.admit(fromSource('light')), { admitted: false });
  light[0].start();
  light[1].finish();
  t.is(gate.queuedFrom('light'), 1);
  ticketOf(gate.admit(fromSource('light')));
  t.like(gate.admit(fromSource('light')), { admitted: false }, 'two is a third of the reopen level');
  t.like(gate.admit(fromSource('heavy')), { admitted: false }, 'the heaviest stays refused throughout');
  t.is(heavy.length, 8);
});

test('one source alone gets no share past the reopen level: hysteresis holds for it', (t) => {
  const gate = new AdmissionGate({ threshold: 8, reopenRatio: 0.5, maxQueued: 20 }, () => 0);
  const tickets = Array.from({ length: 8 }, () => ticketOf(gate.admit(NEW)));
  tickets.pop()?.finish();
  tickets.pop()?.finish();
  t.is(gate.queued, 6);
  t.is(gate.fairShare('a'), 4);
  t.like(gate.admit(NEW), { admitted: false, reason: 'overloaded' });
});

test('established clients keep priority over newcomers of every source, up to maxQueued', (t) => {
  const gate = new AdmissionGate({ threshold: 4, reopenRatio: 0.5, maxQueued: 6 }, () => 0);
  for (let i = 0; i < 4; i++) ticketOf(gate.admit(NEW));
  ticketOf(gate.admit(ESTABLISHED));
  ticketOf(gate.admit(fromSource('b')));
  t.is(gate.queued, 6);
  t.like(gate.admit(fromSource('c')), { admitted: false, reason: 'full' }, 'the hard cap is for everyone');
});

test('sourceFairness off: every newcomer is refused past the threshold, whoever holds the queue', (t) => {
  const gate = new AdmissionGate({ threshold: 4, maxQueued: 6, sourceFairness: false }, () => 0);
  for (let i = 0; i < 4; i++) ticketOf(gate.admit(NEW));
  t.like(gate.admit(fromSource('b')), { admitted: false, reason: 'overloaded' });
});

test('a source leaves the count when its last queued request starts or is dropped', (t) => {
  const gate = new AdmissionGate({}, () => 0);
  const a = ticketOf(gate.admit(NEW));
  const b = ticketOf(gate.admit(fromSource('b')));
  t.is(gate.sources, 2);
  a.start();
  b.finish();
  b.finish();
  t.deepEqual([gate.sources, gate.queuedFrom('a'), gate.queuedFrom('b')], [0, 0, 0]);
});

test('rejects inconsistent options', (t) => {
  t.throws(() => new AdmissionGate({ threshold: 10, maxQueued: 5 }), { instanceOf: RangeError });
  t.throws(() => new AdmissionGate({ reopenRatio: 1 }), { instanceOf: RangeError });
  t.throws(() => new AdmissionGate({ minRetryAfterS: 5, maxRetryAfterS: 2 }), { instanceOf: RangeError });
  t.throws(() => new AdmissionGate({ sourceFairness: 'yes' as unknown as boolean }), { instanceOf: RangeError });
});
