import { Client, type Dispatcher } from 'undici';
import { OriginConnection, type OriginConnectionOptions, type OriginHandler, type OriginRequest } from './origin-connection.js';

/** One connection slot: sends one request at a time and (re)connects on demand. */
export interface PooledConnection {
  dispatch(request: OriginRequest, handler: OriginHandler): unknown;
  /** Closes once the request in flight ended. */
  close(): Promise<void>;
  /** Cuts it, request in flight included. */
  destroy(): Promise<void>;
}

/**
 * The connection an origin URL gets: plain HTTP our own lean HTTP/1.1 connection (origin-connection.ts,
 * about a third of the back-end's CPU per request less than undici's Client, measured); HTTPS undici's
 * Client, which brings TLS and its session reuse.
 */
export function connectionFactory(url: URL, options: OriginConnectionOptions): () => PooledConnection {
  if (url.protocol === 'http:') {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || 80);
    return () => new OriginConnection(host, port, options);
  }
  const clientOptions: Client.Options = {
    pipelining: 1,
    keepAliveTimeout: options.idleTimeoutMs,
    keepAliveMaxTimeout: options.idleTimeoutMs,
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    connect: { timeout: options.connectTimeoutMs },
  };
  return () => {
    const client = new Client(url.origin, clientOptions);
    return {
      dispatch: (request, handler) => client.dispatch(request as Dispatcher.DispatchOptions, handler as Dispatcher.DispatchHandler),
      close: () => client.close(),
      destroy: () => client.destroy(),
    };
  };
}

/**
 * One HTTP origin's keep-alive connections (seed 000 [0029]–[0040]), one request per connection at a
 * time, that follow the concurrency limit: a connection is opened only when no idle one is
 * left, and one that comes back idle while the set is larger than the limit is closed at once, so after a
 * decrease the set shrinks as the requests above the new limit finish (an active connection is never cut).
 * `trim()` closes idle ones past the limit without waiting for traffic (the gateway calls it every second).
 */
export class OriginConnections {
  /** Idle connections, most recently used last: the next request takes the warmest one. */
  private readonly idle: PooledConnection[] = [];
  /** Every connection not yet closed, to cut them all if closing takes too long. */
  private readonly all = new Set<PooledConnection>();
  private busy = 0;
  private closed = false;

  constructor(
    private readonly openConnection: () => PooledConnection,
    /** The origin's current limit: connections kept at most (requests in service keep theirs). */
    private readonly limit: () => number,
  ) {}

  /** Connections open or reserved: in use plus idle. */
  get size(): number {
    return this.busy + this.idle.length;
  }

  /** Sends one request on an idle connection, or on a new one when none is idle. */
  dispatch(request: OriginRequest, handler: OriginHandler): void {
    const client = this.idle.pop() ?? this.open();
    this.busy++;
    let returned = false;
    const giveBack = (reusable: boolean) => {
      if (returned) return;
      returned = true;
      this.busy--;
      if (!reusable || this.closed || this.size >= this.limit()) this.retire(client);
      else this.idle.push(client);
    };
    client.dispatch(request, connectionHandler(handler, giveBack));
  }

  /** Closes idle connections while more are kept than the limit allows. */
  trim(): void {
    while (this.idle.length > 0 && this.size > this.limit()) this.retire(this.idle.shift() as PooledConnection);
  }

  /** Closes idle connections now and the others once their request ends. */
  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.idle.splice(0)) this.retire(client);
    await Promise.all([...this.all].map((client) => client.close().catch(() => {})));
  }

  /** Cuts every connection, requests in flight included. */
  async destroy(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((client) => client.destroy().catch(() => {})));
  }

  private open(): PooledConnection {
    const client = this.openConnection();
    this.all.add(client);
    return client;
  }

  private retire(client: PooledConnection): void {
    this.all.delete(client);
    void client.close().catch(() => {});
  }
}

/**
 * The caller's handler with the connection handed back when the exchange ends: reusable after a complete
 * response, closed after an error (its state is unknown). Speaks the same handler methods as the caller's
 * (see origin-relay.ts for why those).
 */
function connectionHandler(handler: OriginHandler, giveBack: (reusable: boolean) => void): OriginHandler {
  return {
    onConnect: (abort) => handler.onConnect?.(abort),
    onHeaders: (status, headers, resume, statusText) => handler.onHeaders?.(status, headers, resume, statusText) ?? true,
    onData: (chunk) => handler.onData?.(chunk) ?? true,
    onComplete: (trailers) => {
      giveBack(true);
      handler.onComplete?.(trailers);
    },
    onError: (error) => {
      giveBack(false);
      handler.onError?.(error);
    },
  };
}
