import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { startDemoOrigin, type DemoOrigin, type StartDemoOriginOptions } from '@overlay/demo-origin';
import type { ExecutionContext } from 'ava';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

/** One request on loopback, the whole body gathered. */
export function fetchOnce(
  origin: DemoOrigin, path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer | string; agent?: import('node:http').Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin.url}${path}`, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Starts an origin on 127.0.0.1 port 0 and closes it when the test ends. */
export async function originFor(t: ExecutionContext, options: Partial<StartDemoOriginOptions> = {}): Promise<DemoOrigin> {
  const origin = await startDemoOrigin({ id: 'origin-test', host: '127.0.0.1', port: 0, ...options });
  t.teardown(() => origin.close());
  return origin;
}
