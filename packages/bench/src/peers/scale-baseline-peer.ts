/**
 * The scale benchmark's baselines, each in a fresh process so its memory growth is its own: the demo origin
 * (a plain node:http server) holding idle client connections directly, and a plain Node TCP relay
 * (two sockets piped both ways) holding WebSockets to the real origin.
 */
import { createServer, connect, type Socket } from 'node:net';
import { startDemoOrigin } from '@overlay/demo-origin';
import { servePeer, settledMemory } from '../measure.js';

function relay(client: Socket, targetPort: number): void {
  const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
  const cut = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', cut).on('close', cut);
  upstream.on('error', cut).on('close', cut);
  client.pipe(upstream);
  upstream.pipe(client);
}

servePeer({
  async origin(args) {
    const origin = await startDemoOrigin({ id: 'baseline-origin', maxConnections: Number(args.maxConnections) });
    return origin.port;
  },
  async relay(args) {
    const server = createServer({ noDelay: true }, (client) => relay(client, Number(args.targetPort)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  },
  memory: () => settledMemory(),
});
// Nothing to close: the scenario ends this process (SIGTERM) with everything it holds.
