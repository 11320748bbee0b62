import { once } from 'node:events';
import type { ExecutionContext } from 'ava';
import { TunnelClient, TunnelServer, type TunnelClientOptions, type TunnelServerOptions, type TunnelSession } from '@overlay/tunnel';

export const KEY = 'test-pre-shared-key-0123456789';

export interface Pair {
  server: TunnelServer;
  client: TunnelClient;
  port: number;
  /** The server side of the client's first connection. */
  serverSession: TunnelSession;
}

/**
 * A back-end tunnel server and a connected front-end client on loopback, closed when the test ends,
 * whether it passed or not (an open pair would keep the test process alive).
 */
export async function tunnelPair(t: ExecutionContext, serverOptions: Partial<TunnelServerOptions> = {}, clientOptions: Partial<TunnelClientOptions> = {}): Promise<Pair> {
  const server = new TunnelServer({ id: 'be-test', keys: [KEY], ...serverOptions });
  const { port } = await server.listen();
  const sessionUp = once(server, 'session') as Promise<[TunnelSession]>;
  const client = new TunnelClient({ id: 'fe-test', host: '127.0.0.1', port, key: KEY, ...clientOptions }).start();
  await client.ready(5_000);
  const [serverSession] = await sessionUp;
  t.teardown(async () => {
    await client.close();
    await server.close(500);
  });
  return {
    server,
    client,
    port,
    serverSession,
  };
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Deterministic PRNG (mulberry32) so failures reproduce from the printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
