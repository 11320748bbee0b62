import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@overlay/common';
import { applyStatePatch, startManager, type ManagerConfigInput, type RunningManager } from '@overlay/manager';
import WebSocket from 'ws';

export const TOKEN = 'test-token-0123456789';
export const READ_TOKEN = 'read-token-0123456789';

export async function tempDir(prefix = 'manager-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startTestManager(overrides: Partial<ManagerConfigInput> = {}): Promise<RunningManager & { dataDir: string }> {
  const dataDir = overrides.dataDir ?? (await tempDir());
  const manager = await startManager(
    { role: 'both', listen: '127.0.0.1:0', token: TOKEN, readTokens: [READ_TOKEN], dataDir, ...overrides },
    { log: silentLogger },
  );
  return Object.assign(manager, { dataDir });
}

export interface ApiAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** One API call with the write token unless told otherwise (`token: null` sends none). */
export async function api(base: string, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function siteBody(overrides: Record<string, unknown> = {}) {
  return {
    domains: ['shop.demo.test'],
    mode: 'http',
    origins: [{ url: 'http://127.0.0.1:9001', weight: 2, primary: true }, { url: 'http://127.0.0.1:9002' }],
    routes: [{ pathPrefix: '/api', origins: [{ url: 'http://127.0.0.1:9003' }] }],
    frontEnds: ['pop-a-1'],
    backEnds: ['be-1'],
    ...overrides,
  };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A raw feed connection that records every message, for asserting on the wire protocol itself. */
export class FeedProbe {
  readonly messages: any[] = [];
  closeCode: number | undefined;
  /** The state the messages so far add up to; each patch message gets the `state` it leads to, for tests to read. */
  state: any;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'snapshot') this.state = message.state;
      if (message.type === 'patch') {
        if (this.state?.version !== message.from) throw new Error(`patch from ${message.from} on a probe holding ${this.state?.version}`);
        this.state = message.state = applyStatePatch(this.state, message);
      }
      this.messages.push(message);
    });
    socket.on('close', (code) => (this.closeCode = code));
  }

  static async open(base: string, query = '', headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<FeedProbe> {
    const socket = new WebSocket(`${base.replace('http:', 'ws:')}/v1/stream${query}`, { headers });
    const probe = new FeedProbe(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return probe;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  next(predicate: (message: any) => boolean, timeoutMs = 3000): Promise<any> {
    return waitFor('a feed message', () => this.messages.find(predicate), timeoutMs);
  }

  close(): void {
    this.socket.terminate();
  }
}

export function report(overrides: Record<string, unknown> = {}) {
  return {
    load: 0.25,
    healthy: true,
    tunnels: [{ peer: 'be-1', rttMs: 23.5, jitterMs: 1.5, lossRate: 0.001, throughputBps: 1_250_000, connected: true }],
    ringBytes: [4096, 2048, 1024, 512, 256],
    ...overrides,
  };
}
