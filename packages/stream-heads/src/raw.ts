import type { Readable, Writable } from 'node:stream';

/**
 * Moves bytes from `source` to `sink` with backpressure (the source pauses while the sink's buffer is
 * full, until its 'drain') and carries the end across: what `pipe()` does for the raw phase of a stream
 * (upgraded and TCP-mode connections), with three listeners instead of pipe's nine closures, which a
 * WebSocket holds for its whole life on both gateways. Errors and teardown stay the caller's: it destroys
 * the other side when one fails. `count` sees each chunk's size (byte metrics).
 */
export function relayBytes(source: Readable, sink: Writable, count: (bytes: number) => void): void {
  const resume = () => source.resume();
  source.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!sink.write(chunk)) {
      source.pause();
      sink.once('drain', resume);
    }
  });
  source.on('end', () => sink.end()); // not once(): its wrapper is two more objects per connection
}
