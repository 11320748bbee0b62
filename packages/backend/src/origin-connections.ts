import { Client, type Dispatcher } from 'undici';

/**
 * One HTTP origin's keep-alive connections (seed 000 [0029]–[0040]), one undici Client each (one request per
 * connection at a time), that follow the concurrency limit: a connection is opened only when no idle one is
 * left, and one that comes back idle while the set is larger than the limit is closed at once, so after a
 * decrease the set shrinks as the requests above the new limit finish (an active connection is never cut).
 * `trim()` closes idle ones past the limit without waiting for traffic (the gateway calls it every second).
 */
export class OriginConnections {
  /** Idle connections, most recently used last: the next request takes the warmest one. */
  private readonly idle: Client[] = [];
  /** Every connection not yet closed, to cut them all if closing takes too long. */
  private readonly all = new Set<Client>();
  private busy = 0;
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly options: Client.Options,
    /** The origin's current limit: connections kept at most (requests in service keep theirs). */
    private readonly limit: () => number,
  ) {}

  /** Connections open or reserved: in use plus idle. */
  get size(): number {
    return this.busy + this.idle.length;
  }

  /** Sends one request on an idle connection, or on a new one when none is idle. */
  dispatch(request: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
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
    while (this.idle.length > 0 && this.size > this.limit()) this.retire(this.idle.shift() as Client);
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

  private open(): Client {
    const client = new Client(this.origin, this.options);
    this.all.add(client);
    return client;
  }

  private retire(client: Client): void {
    this.all.delete(client);
    void client.close().catch(() => {});
  }
}

/**
 * The caller's handler with the connection handed back when the exchange ends: reusable after a complete
 * response, closed after an error (its state is unknown). Speaks the same handler methods as the caller's
 * (see origin-relay.ts for why those).
 */
function connectionHandler(handler: Dispatcher.DispatchHandler, giveBack: (reusable: boolean) => void): Dispatcher.DispatchHandler {
  return {
    onConnect: (abort) => handler.onConnect?.(abort),
    onHeaders: (status, headers, resume, statusText) => handler.onHeaders?.(status, headers, resume, statusText) ?? true,
    onData: (chunk) => handler.onData?.(chunk) ?? true,
    onUpgrade: (status, headers, socket) => handler.onUpgrade?.(status, headers, socket),
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
