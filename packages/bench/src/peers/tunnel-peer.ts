/** The far side of the tunnel benchmark: a raw TCP server and a tunnel server, each sinking or echoing. */
import { createServer, type Socket } from 'node:net';
import { TunnelServer, type TunnelStream } from '@overlay/tunnel';
import { cpuSeconds, servePeer, settledMemory } from '../measure.js';

const KEY = 'benchmark-pre-shared-key';
let idleStreams = 0;
let idleSockets = 0;

/** Raw TCP: first byte says the mode. 's' sink (answer the byte count at end), 'e' echo 1 KiB exchanges, 'i' idle. */
const raw = createServer({ noDelay: true }, (socket: Socket) => {
  let mode = '';
  let count = 0;
  let pending = 0;
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (!mode) {
      mode = String.fromCharCode(data[0]);
      data = data.subarray(1);
      if (mode === 'i') idleSockets++;
    }
    if (mode === 's') count += data.length;
    else if (mode === 'e') {
      pending += data.length;
      while (pending >= 1024) {
        pending -= 1024;
        socket.write(Buffer.alloc(1024, 7));
      }
    }
  });
  socket.on('end', () => {
    if (mode === 'i') idleSockets--;
    if (mode === 's') socket.end(`${count}`);
    else socket.end();
  });
});

const tunnel = new TunnelServer({ id: 'bench-back-end', keys: [KEY] });
tunnel.on('stream', (stream: TunnelStream) => {
  const { mode } = stream.meta as { mode: string };
  stream.on('error', () => {});
  if (mode === 'sink') {
    let count = 0;
    stream.on('data', (chunk: Buffer) => (count += chunk.length));
    stream.on('end', () => {
      stream.respond({ count });
      stream.end();
    });
  } else if (mode === 'rr') {
    stream.resume();
    stream.on('end', () => stream.end(Buffer.alloc(1024, 7)));
  } else {
    idleStreams++;
    stream.once('close', () => idleStreams--);
  }
});

servePeer({
  async listen() {
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port: tunnelPort } = await tunnel.listen();
    return { rawPort: (raw.address() as { port: number }).port, tunnelPort, key: KEY };
  },
  cpu: () => cpuSeconds(),
  memory: () => settledMemory(),
  idle: () => ({ streams: idleStreams, sockets: idleSockets }),
});
