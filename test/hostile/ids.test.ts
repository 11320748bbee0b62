/**
 * Issue 17, case 4 and the manager's unread bodies: ids that name prototype members never reach one.
 * `constructor` is an ordinary id (docs/api.md): a front-end of that name registers, serves, and every
 * front-end keeps taking updates; `toString`, `__proto__`, `valueOf`, `hasOwnProperty` fail the id pattern
 * and get 400, never 500. A caller without a token gets 401 before the manager reads a 50 MiB body.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import test from 'ava';
import { parseHostPort, pollUntil } from '@overlay/common';
import { TUNNEL_KEY, get, startOrigin, startRole, tempDir } from './stack.js';

const TOKEN = 'hostile-manager-token-0123456789';

async function api(base: string, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const response = await fetch(`${base}/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

test('ids naming prototype members: 400 or an ordinary id, never a 500 or a frozen front-end', async (t) => {
  const dir = await tempDir(t);
  const origin = await startOrigin(t);
  const manager = await startRole(t, dir, 'manager', { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: `${dir}/data` });
  const base = String(manager.ready.url);
  const link = { url: base, token: TOKEN };
  await startRole(t, dir, 'back-end', { id: 'be-h', tunnel: { listen: '127.0.0.1:0', keys: [TUNNEL_KEY] }, admin: '127.0.0.1:0', manager: link });
  const frontEnds = [];
  for (const id of ['fe-h', 'constructor']) {
    const errors: string[] = [];
    const child = await startRole(t, dir, 'front-end', {
      id, http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0', manager: { ...link, tunnelKey: TUNNEL_KEY },
    }, (line) => {
      if (/"level":50/.test(line)) errors.push(line);
    });
    frontEnds.push({ id, http: String(child.ready.http), errors });
  }

  const site = { domains: ['shop.test'], origins: [{ url: origin }], frontEnds: ['fe-h', 'constructor'], backEnds: ['be-h'] };
  t.is((await api(base, 'PUT', '/sites/shop', site)).status, 201);
  t.is((await api(base, 'PUT', '/sites/constructor', { ...site, domains: ['ctor.test'] })).status, 201, '`constructor` is an ordinary site name');

  for (const bad of ['toString', '__proto__', 'valueOf', 'hasOwnProperty', 'Constructor']) {
    for (const [method, path, body] of [
      ['PUT', `/sites/${bad}`, site],
      ['GET', `/sites/${bad}`, undefined],
      ['GET', `/front-ends/${bad}`, undefined],
      ['GET', `/back-ends/${bad}`, undefined],
      ['DELETE', `/front-ends/${bad}`, undefined],
      ['PUT', '/sites/odd', { ...site, domains: ['odd.test'], frontEnds: [bad] }],
      ['PUT', '/sites/odd', { ...site, domains: ['odd.test'], backEnds: [bad] }],
    ] as const) {
      const answer = await api(base, method, path, body);
      t.is(answer.status, 400, `${method} ${path} ${JSON.stringify(body ?? '')}`);
      t.is(typeof answer.body.error.message, 'string');
    }
  }
  t.is((await api(base, 'GET', '/back-ends/constructor')).status, 404, 'an unregistered `constructor` is 404, not the prototype\'s');

  // Both front-ends, `constructor` included, serve both sites, and keep taking updates.
  for (const frontEnd of frontEnds) {
    for (const host of ['shop.test', 'ctor.test']) {
      t.true(await pollUntil(async () => (await get(frontEnd.http, '/', { host })).status === 200, { timeoutMs: 15_000 }), `${frontEnd.id} serves ${host}`);
    }
  }
  t.is((await api(base, 'PUT', '/sites/later', { ...site, domains: ['later.test'] })).status, 201);
  t.is((await api(base, 'DELETE', '/sites/constructor')).status, 204);
  for (const frontEnd of frontEnds) {
    t.true(await pollUntil(async () => (await get(frontEnd.http, '/', { host: 'later.test' })).status === 200, { timeoutMs: 15_000 }), `${frontEnd.id} took the later update`);
    t.true(await pollUntil(async () => (await get(frontEnd.http, '/', { host: 'ctor.test' })).status === 404, { timeoutMs: 15_000 }), `${frontEnd.id} dropped the deleted site`);
    t.deepEqual(frontEnd.errors, [], `${frontEnd.id} logged no errors`);
  }
  const registered = await api(base, 'GET', '/front-ends/constructor');
  t.is(registered.status, 200);
  t.true(registered.body.sites.includes('shop'));
});

test('a caller without a token gets 401 and a close before the manager reads its 50 MiB body', async (t) => {
  const dir = await tempDir(t);
  const manager = await startRole(t, dir, 'manager', { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: `${dir}/data` });
  const { host, port } = parseHostPort(new URL(String(manager.ready.url)).host);
  const socket = connect({ host, port });
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  let failed = false;
  socket.on('error', () => {
    failed = true;
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const total = 50 * 1024 * 1024;
  socket.write(`PUT /v1/sites/big HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`);
  const chunk = Buffer.alloc(256 * 1024, 0x20);
  let sent = 0;
  while (sent < total && !failed && !socket.destroyed) {
    const flushed = socket.write(chunk);
    sent += chunk.length;
    if (!flushed) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
  }
  await closed;
  t.regex(answer, /^HTTP\/1\.1 401 /);
  t.regex(answer, /connection: close/i);
  t.true(sent < total / 4, `the manager took ${sent} bytes before closing`);
  t.log('bytes the unauthenticated caller got in before the close:', sent);
});
