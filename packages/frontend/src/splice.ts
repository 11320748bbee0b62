import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { flatPairs, relayBytes, type ByteCounts } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';

/**
 * Joins a client socket and a tunnel stream as a raw byte pipe both ways (upgraded and TCP-mode
 * connections), with backpressure in both directions and half-close carried across (a FIN becomes the
 * stream's FIN and back). A failure on either side tears down the other: an abandoned stream is reset.
 * The caller has put an 'error' listener on both (they are the first to hold them). Listeners that live
 * as long as the connection are plain `on` ones: `once` wraps each in two objects more, per connection.
 */
export function splice(client: Duplex, stream: TunnelStream, count: ByteCounts): void {
  relayBytes(client, stream, count.in);
  relayBytes(stream, client, count.out);
  client.on('close', () => {
    // The client is gone both ways: nothing more can be delivered, so the stream ends here (reset if unfinished).
    if (!stream.destroyed) stream.destroy();
  });
  stream.on('close', () => {
    // A stream that ended cleanly has already ended the client through the relay; let it flush.
    if (stream.errored || !stream.readableEnded) client.destroy();
  });
}

/** Writes a whole HTTP/1.1 response head on a raw socket (upgrade path, where no ServerResponse exists). */
export function rawHead(status: number, fields: readonly string[]): string {
  let lines = '';
  for (let i = 0; i + 1 < fields.length; i += 2) lines += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${lines}\r\n`;
}

/** A short text answer on a raw socket, then close. */
export function rawAnswer(socket: Duplex, status: number, text: string, pairs: ReadonlyArray<readonly [string, string]>): void {
  const body = Buffer.from(`${text}\n`);
  const head = rawHead(status, [
    'content-type', 'text/plain; charset=utf-8',
    'content-length', String(body.length),
    'connection', 'close',
    ...flatPairs(pairs),
  ]);
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}
