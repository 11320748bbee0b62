import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ignoreError } from '@overlay/common';
import type { TunnelStream } from '@overlay/tunnel';

/**
 * Joins a client socket and a tunnel stream as a raw byte pipe both ways (upgraded and TCP-mode
 * connections), with backpressure in both directions and half-close carried across (a FIN becomes the
 * stream's FIN and back). A failure on either side tears down the other: an abandoned stream is reset.
 */
export function splice(client: Duplex, stream: TunnelStream, count: (direction: 'in' | 'out', bytes: number) => void): void {
  client.on('data', (chunk: Buffer) => count('in', chunk.length));
  stream.on('data', (chunk: Buffer) => count('out', chunk.length));
  client.on('error', ignoreError);
  stream.on('error', ignoreError);
  client.pipe(stream);
  stream.pipe(client);
  client.once('close', () => {
    // The client is gone both ways: nothing more can be delivered, so the stream ends here (reset if unfinished).
    if (!stream.destroyed) stream.destroy();
  });
  stream.once('close', () => {
    // A stream that ended cleanly has already ended the client through the pipe; let it flush.
    if (stream.errored || !stream.readableEnded) client.destroy();
  });
}

/** Writes a whole HTTP/1.1 response head on a raw socket (upgrade path, where no ServerResponse exists). */
export function rawHead(status: number, pairs: ReadonlyArray<readonly [string, string]>): string {
  const lines = pairs.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${lines}\r\n`;
}

/** A short text answer on a raw socket, then close. */
export function rawAnswer(socket: Duplex, status: number, text: string, pairs: ReadonlyArray<readonly [string, string]>): void {
  const body = Buffer.from(`${text}\n`);
  const head = rawHead(status, [
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(body.length)],
    ['connection', 'close'],
    ...pairs,
  ]);
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}
