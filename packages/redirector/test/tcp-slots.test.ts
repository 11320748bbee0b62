import test from 'ava';
import { TcpSlots } from '@overlay/redirector';

const policy = { idleTimeoutMs: 10_000, minIdleTimeoutMs: 500, messageTimeoutMs: 3000, maxConnections: 4, maxConnectionsPerSource: 2 };

test('a full table admits the new connection and names the idlest to close', (t) => {
  const slots = new TcpSlots<string>(policy);
  t.deepEqual(slots.admit('a', '192.0.2.1', 0), []);
  t.deepEqual(slots.admit('b', '192.0.2.2', 10), []);
  t.deepEqual(slots.admit('c', '192.0.2.3', 20), []);
  t.deepEqual(slots.admit('d', '192.0.2.4', 30), []);
  slots.received('a', 100, true, false);
  t.deepEqual(slots.admit('e', '192.0.2.5', 200), ['b'], 'a asked recently; b is the idlest');
  t.is(slots.size, 4);
});

test("a source over its share loses its own idlest, not another source's", (t) => {
  const slots = new TcpSlots<string>(policy);
  slots.admit('other', '192.0.2.9', 0);
  slots.admit('a1', '192.0.2.1', 10);
  slots.admit('a2', '192.0.2.1', 20);
  t.deepEqual(slots.admit('a3', '192.0.2.1', 30), ['a1']);
});

test('bytes of an unfinished message do not reset its deadline; a whole message does', (t) => {
  const slots = new TcpSlots<string>(policy);
  slots.admit('t', '192.0.2.1', 0);
  slots.received('t', 100, false, true);
  slots.received('t', 2000, false, true);
  t.deepEqual(slots.expired(3099), []);
  t.deepEqual(slots.expired(3100), ['t'], '3 s after the first byte, whatever came since');
  slots.admit('q', '192.0.2.1', 0);
  slots.received('q', 100, false, true);
  slots.received('q', 2000, true, false);
  t.deepEqual(slots.expired(4000), [], 'the message completed, so it is idle since 2000');
});

test('the idle timeout shrinks as the table fills', (t) => {
  const slots = new TcpSlots<string>(policy);
  t.is(slots.idleTimeout(), 10_000);
  slots.admit('a', '192.0.2.1', 0);
  slots.admit('b', '192.0.2.2', 0);
  t.is(slots.idleTimeout(), 5250);
  slots.admit('c', '192.0.2.3', 0);
  slots.admit('d', '192.0.2.4', 0);
  t.is(slots.idleTimeout(), 500);
  t.deepEqual(slots.expired(499), []);
  t.is(slots.expired(500).length, 4);
});
