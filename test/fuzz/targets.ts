/**
 * Property/fuzz targets over what faces untrusted bytes: the tunnel decoder and handshake, the DNS
 * parser and answer path, the front-end's HTTP listener, the config loaders and the manager API. Each
 * property states what must hold for any input: a typed refusal (never an untyped crash), no hang, no 500.
 * `pnpm fuzz` runs each with ≥ 100k inputs (test/fuzz/main.ts); fuzz.test.ts runs a small sample.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { ConfigError, ConfigErrors, OverlayError, parseConfigText, silentLogger, validate, validateAll } from '@overlay/common';
import { backEndConfigSchema } from '@overlay/backend';
import { frontEndConfigSchema, startFrontEnd } from '@overlay/frontend';
import { emptyDurableState, managerConfigSchema, startManager, type Change, type DurableState, type Store } from '@overlay/manager';
import { Redirector, TcpMessageReader, decodeQuery } from '@overlay/redirector';
import {
  FrameDecoder, FrameType, MAGIC, PROTOCOL_VERSION, TunnelError, acceptorHandshake, defaultSettings, encodeFrame, keyId, packPayload,
} from '@overlay/tunnel';

/** Inputs the socket targets send at once. */
const BATCH = 16;

export interface Target {
  name: string;
  /** Runs `numRuns` generated inputs; throws (with fast-check's counterexample) when a property fails. */
  run(numRuns: number, seed?: number): Promise<void>;
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((array) => Buffer.from(array));
/** Splits a buffer at random points, as TCP may deliver it. */
const chunked = (input: fc.Arbitrary<Buffer>) =>
  fc.tuple(input, fc.array(fc.nat(), { maxLength: 6 })).map(([buffer, cuts]) => {
    const points = [...new Set(cuts.map((cut) => (buffer.length ? cut % buffer.length : 0)))].sort((a, b) => a - b);
    const parts: Buffer[] = [];
    let from = 0;
    for (const point of points) {
      parts.push(buffer.subarray(from, point));
      from = point;
    }
    parts.push(buffer.subarray(from));
    return parts;
  });

/** A well-formed frame, or one with a random header, or random bytes: mostly near-valid input. */
const frameish = fc.oneof(
  fc.tuple(fc.constantFrom(...Object.values(FrameType)), fc.nat(0xff), fc.nat(), bytes(64)).map(([type, flags, id, payload]) => {
    try {
      return encodeFrame(type, flags, id, payload);
    } catch {
      return payload;
    }
  }),
  bytes(40),
);

const decoderTarget: Target = {
  name: 'tunnel frame decoder',
  async run(numRuns, seed) {
    fc.assert(
      fc.property(chunked(fc.array(frameish, { maxLength: 8 }).map((frames) => Buffer.concat(frames))), (parts) => {
        let frames = 0;
        const decoder = new FrameDecoder(1 << 16, (_type, _flags, _id, payload) => {
          frames++;
          if (!Buffer.isBuffer(payload)) throw new Error('payload is not a buffer');
        });
        try {
          for (const part of parts) decoder.push(part);
        } catch (err) {
          // Refusals are typed, with a wire code to send in the GOAWAY.
          if (!(err instanceof TunnelError)) throw err;
        }
        return frames >= 0;
      }),
      { numRuns, seed },
    );
  },
};

/** Two in-memory duplexes wired back to back. */
function duplexPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } => {
    const side: Duplex & { peer?: Duplex } = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        side.peer!.push(chunk);
        callback();
      },
      final(callback) {
        side.peer!.push(null);
        callback();
      },
    });
    return side;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const KEY = Buffer.from('fuzz-target-pre-shared-key-0123456789');

const handshakeTarget: Target = {
  name: 'tunnel handshake (acceptor)',
  async run(numRuns, seed) {
    // Near-valid openings: a real CLIENT_HELLO with a byte changed or cut short, or random bytes.
    const payload = packPayload({ id: 'fe-fuzz', tunnel: 't', kid: keyId(KEY), settings: defaultSettings });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(payload.length, 0);
    const realHello = Buffer.concat([MAGIC, Buffer.from([PROTOCOL_VERSION, 0]), Buffer.alloc(32, 7), length, payload]);
    const hello = fc.oneof(
      fc.tuple(fc.nat(), fc.nat(255), fc.nat(realHello.length + 40), bytes(40)).map(([at, value, cut, tail]) => {
        const copy = Buffer.concat([realHello, tail]);
        copy[at % realHello.length] = value;
        return copy.subarray(0, cut);
      }),
      bytes(300),
      fc.tuple(bytes(40), fc.object()).map(([prefix, value]) => Buffer.concat([MAGIC, Buffer.from([PROTOCOL_VERSION, 0]), Buffer.concat([prefix, Buffer.alloc(32)]).subarray(0, 32), Buffer.from([0, 0]), packPayload(value)])),
    );
    await fc.assert(
      fc.asyncProperty(chunked(hello), async (parts) => {
        const [attacker, acceptor] = duplexPair();
        const result = acceptorHandshake(acceptor, { keys: [KEY], id: 'be-fuzz', settings: defaultSettings, timeoutMs: 2_000 });
        for (const part of parts) attacker.write(part);
        attacker.end();
        try {
          await result;
          return false; // nobody without the key may complete a handshake
        } catch (err) {
          if (!(err instanceof TunnelError)) throw err;
          return err.code !== 'ERR_TUNNEL_HANDSHAKE_TIMEOUT';
        }
      }),
      { numRuns, seed },
    );
  },
};

function dnsState() {
  return {
    zones: { 'demo.test': { ns: [{ name: 'ns1.demo.test', addresses: ['127.0.0.1'] }] } },
    sites: { shop: { domains: ['shop.demo.test'], frontEnds: ['pop-a'] }, constructor: { domains: ['ctor.demo.test'], frontEnds: ['pop-a'] } },
    frontEnds: { 'pop-a': { addresses: ['127.0.1.1', '::1'], pop: 'pop-a' } },
    popPreferences: { '0.0.0.0/0': ['pop-a'] },
  };
}

/** A DNS query that is well-formed or near it: real header, a name, type, class, maybe an OPT with ECS. */
const dnsQuery = fc.oneof(
  fc.tuple(
    fc.nat(0xffff), fc.nat(0xffff), fc.array(fc.stringMatching(/^[a-z0-9-]{0,12}$/), { maxLength: 5 }), fc.constantFrom(1, 28, 2, 6, 255, 16, 0, 65535),
    fc.option(fc.tuple(fc.nat(0xffff), bytes(12))), fc.nat(80), fc.nat(255),
  ).map(([id, flags, labels, type, opt, at, value]) => {
    const name = Buffer.concat([...[...labels, 'shop', 'demo', 'test'].map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])), Buffer.from([0])]);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(flags & 0x7900, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(opt ? 1 : 0, 10);
    const question = Buffer.alloc(4);
    question.writeUInt16BE(type, 0);
    question.writeUInt16BE(1, 2);
    const parts = [header, name, question];
    if (opt) {
      const [size, option] = opt;
      const rr = Buffer.alloc(11);
      rr.writeUInt16BE(41, 1);
      rr.writeUInt16BE(size, 3);
      const body = Buffer.concat([Buffer.from([0, 8, 0, option.length]), option]);
      rr.writeUInt16BE(body.length, 9);
      parts.push(rr, body);
    }
    const message = Buffer.concat(parts);
    message[at % message.length] = value; // one byte off
    return message;
  }),
  bytes(120),
);

const dnsTarget: Target = {
  name: 'DNS parser and answer path',
  async run(numRuns, seed) {
    const redirector = new Redirector({ state: dnsState(), rateLimit: { enabled: false } });
    fc.assert(
      fc.property(dnsQuery, fc.constantFrom('udp', 'tcp') as fc.Arbitrary<'udp' | 'tcp'>, (query, transport) => {
        decodeQuery(query);
        const answer = redirector.respond(query, { address: '10.1.2.3', transport });
        if (answer === undefined) return true;
        // An answer is a DNS message with our id, and a UDP one never exceeds what may be sent.
        return answer.length >= 12 && answer.readUInt16BE(0) === query.readUInt16BE(0) && (transport === 'tcp' || answer.length <= 4096);
      }),
      { numRuns, seed },
    );
    fc.assert(
      fc.property(chunked(bytes(300)), (parts) => {
        const reader = new TcpMessageReader();
        for (const part of parts) for (const message of reader.push(part)) if (message.length > 65_535) return false;
        return true;
      }),
      { numRuns: Math.max(1, Math.floor(numRuns / 10)), seed },
    );
  },
};

/** Header names and values an attacker would try, prototype members included. */
const headerName = fc.oneof(fc.constantFrom('Host', 'host', 'constructor', '__proto__', 'toString', 'Content-Length', 'Transfer-Encoding', 'Expect', 'Upgrade', 'Connection', 'X-Forwarded-For'), fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/));
const headerValue = fc.oneof(fc.constantFrom('shop.test', 'chunked', '100-continue', '0', '-1', '99999999999', 'websocket', 'close', ''), fc.string({ maxLength: 30 }));
const target = fc.oneof(fc.constantFrom('/', '/bytes/10', 'http://shop.test/x', 'https://shop.test:99/', '*', '//x', '/%zz', 'shop.test:80', 'http://[::1]/', 'http://a@b/'), fc.webPath(), fc.string({ maxLength: 20 }));
const httpRequest = fc.oneof(
  fc.tuple(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'CONNECT', 'G T', 'get'), target, fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2', 'HTTP/9.9', ''), fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }), bytes(20))
    .map(([method, path, version, headers, body]) => Buffer.concat([Buffer.from(`${method} ${path} ${version}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1'), body])),
  bytes(200),
);

const httpTarget: Target = {
  name: 'front-end HTTP listener',
  async run(numRuns, seed) {
    // A site with no back-end up: requests that get past parsing are answered by the front-end itself.
    const frontEnd = await startFrontEnd(validate(frontEndConfigSchema, {
      id: 'fe-fuzz', http: { listen: '127.0.0.1:0', headersTimeoutMs: 2_000, requestTimeoutMs: 4_000, replyTimeoutMs: 1_000 }, admin: '127.0.0.1:0',
      state: { backEnds: { 'be-x': { tunnel: '127.0.0.1:9', key: 'fuzz-key-0123456789abcdef' } }, sites: { shop: { domains: ['shop.test'], backEnds: ['be-x'] } } },
    }), { log: silentLogger });
    const { port } = frontEnd.http as AddressInfo;
    try {
      const one = async (requests: Buffer[]) => {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => {});
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        const closed = once(socket, 'close');
        await once(socket, 'connect');
        socket.end(Buffer.concat(requests));
        const timer = setTimeout(() => socket.destroy(), 6_000);
        await closed;
        clearTimeout(timer);
        // Whatever came back is HTTP, and never the front-end's own failure.
        return (answer === '' || answer.startsWith('HTTP/1.')) && !/^HTTP\/1\.1 500 /m.test(answer);
      };
      // Each run sends BATCH connections at once, each one input.
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(httpRequest, { minLength: 1, maxLength: 3 }), { minLength: BATCH, maxLength: BATCH }), async (batch) => (await Promise.all(batch.map(one))).every(Boolean)),
        { numRuns: Math.ceil(numRuns / BATCH), seed },
      );
    } finally {
      await frontEnd.close();
    }
  },
};

/** Config-ish values: objects shaped like a config with random leaves, prototype keys included. */
const configish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(fc.oneof(fc.constantFrom('id', 'tunnel', 'listen', 'keys', 'admin', 'state', 'sites', 'origins', 'url', 'role', 'token', 'constructor', '__proto__', 'toString'), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 5 }),
})).object;

const configTarget: Target = {
  name: 'config loader',
  async run(numRuns, seed) {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), configish.map((value) => JSON.stringify(value)), configish.map((value) => JSON.stringify(value).replace(/[{}",]/g, (c) => (c === ',' ? '\n' : c === '"' ? '' : '')))), fc.boolean(), (text, json) => {
        for (const schema of [backEndConfigSchema, managerConfigSchema]) {
          try {
            validateAll(schema, parseConfigText(text, json ? 'fuzz.json' : 'fuzz.yaml'), 'fuzz.yaml');
          } catch (err) {
            if (!(err instanceof ConfigError) && !(err instanceof ConfigErrors) && !(err instanceof OverlayError)) throw err;
          }
        }
        return ({} as Record<string, unknown>).polluted === undefined;
      }),
      { numRuns, seed },
    );
  },
};

/** An in-memory store: the API under test, not durability. */
class MemoryStore implements Store {
  async load(): Promise<DurableState> {
    return emptyDurableState();
  }
  async append(_change: Change): Promise<void> {}
  async compact(): Promise<void> {}
  async close(): Promise<void> {}
}

const apiId = fc.oneof(fc.constantFrom('shop', 'constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'a.b', '-x', '%2e%2e', '%00', 'A', 'x'.repeat(300), ''), fc.stringMatching(/^[a-z0-9.-]{1,12}$/), fc.string({ maxLength: 10 }).map(encodeURIComponent));
const apiBody = fc.oneof(
  configish,
  fc.record({ domains: fc.array(fc.oneof(fc.domain(), fc.string({ maxLength: 10 })), { maxLength: 3 }), origins: fc.array(fc.record({ url: fc.oneof(fc.webUrl(), fc.string({ maxLength: 10 })) }), { maxLength: 2 }), frontEnds: fc.array(apiId, { maxLength: 2 }), backEnds: fc.array(apiId, { maxLength: 2 }) }, { requiredKeys: [] }),
  fc.record({ weights: fc.array(fc.oneof(fc.double(), fc.integer()), { maxLength: 6 }) }),
  fc.record({ rules: fc.array(fc.record({ match: configish, priority: fc.integer({ min: -2, max: 7 }) }), { maxLength: 2 }), default: fc.integer({ min: -1, max: 5 }) }, { requiredKeys: [] }),
);
const TOKEN = 'fuzz-manager-token-0123456789';

const apiTarget: Target = {
  name: 'manager API',
  async run(numRuns, seed) {
    const manager = await startManager({ role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: '/nonexistent-fuzz' }, { store: new MemoryStore(), log: silentLogger });
    try {
      const call = fc.tuple(
        fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'PATCH'),
        fc.oneof(apiId.map((id) => `/sites/${id}`), apiId.map((id) => `/sites/${id}/priorities`), apiId.map((id) => `/front-ends/${id}`), apiId.map((id) => `/back-ends/${id}`), fc.constantFrom('/rings', '/sites', '/front-ends', '/decisions', '/stream', '/health', '/')),
        fc.oneof(apiBody.map((body) => JSON.stringify(body)), fc.string({ maxLength: 40 })),
        fc.constantFrom(TOKEN, TOKEN, TOKEN, 'wrong-token-wrong-token', undefined),
      );
      const one = async ([method, path, body, token]: [string, string, string, string | undefined]) => {
        const response = await fetch(`${manager.url}/v1${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: method === 'GET' || method === 'DELETE' ? undefined : body,
        });
        const text = await response.text();
        if (response.status >= 500) throw new Error(`${method} ${path} → ${response.status} ${text}`);
        return token === TOKEN || response.status === 401 || path === '/health';
      };
      // Each run makes BATCH calls at once, each one input.
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: BATCH, maxLength: BATCH }), async (batch) => (await Promise.all(batch.map(one))).every(Boolean)),
        { numRuns: Math.ceil(numRuns / BATCH), seed },
      );
    } finally {
      await manager.close();
    }
  },
};

export const targets: readonly Target[] = [decoderTarget, handshakeTarget, dnsTarget, httpTarget, configTarget, apiTarget];
