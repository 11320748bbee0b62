import type { Readable, Writable } from 'node:stream';

/**
 * Moves bytes from `source` to `sink` with backpressure (the source pauses while the sink's buffer is
 * full, until its 'drain') and carries the end across: what `pipe()` does for the raw phase of a stream
 * (upgraded and TCP-mode connections), with three listeners instead of pipe's nine closures, which a
 * WebSocket holds for its whole life on both gateways. Errors and teardown stay the caller's: it destroys
 * the other side when one fails. `count` sees each chunk's size (byte metrics).
 */
export function relayBytes(source: Readable, sink: Writable, count: (bytes: number) => void): void {
  source.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!sink.write(chunk)) {
      source.pause();
      sink.once('drain', () => source.resume()); // made when needed: most idle connections never wait
    }
  });
  source.on('end', () => sink.end()); // not once(): its wrapper is two more objects per connection
}

/** Body byte counters of one site: `in` towards origins, `out` towards clients. */
export interface ByteCounts {
  in: (bytes: number) => void;
  out: (bytes: number) => void;
}

/**
 * Per-site byte counters over a labelled counter, made once per site and shared by every connection:
 * a relay that lives as long as a WebSocket then holds no counting closures of its own.
 */
export function byteCountsBySite(counter: { inc(labels: { site: string; direction: string }, value: number): void }): (site: string) => ByteCounts {
  const made = new Map<string, ByteCounts>();
  return (site) => {
    let counts = made.get(site);
    if (!counts) {
      const labelsIn = { site, direction: 'in' };
      const labelsOut = { site, direction: 'out' };
      counts = { in: (bytes) => counter.inc(labelsIn, bytes), out: (bytes) => counter.inc(labelsOut, bytes) };
      made.set(site, counts);
    }
    return counts;
  };
}
