/** Demo origins in their own process, so their work does not share the measuring process's event loop. */
import { startDemoOrigin } from '@overlay/demo-origin';
import { servePeer } from '../measure.js';

const running: Array<{ close(): Promise<void> }> = [];

servePeer({
  async start(args) {
    const origin = await startDemoOrigin({ id: String(args.id), host: '127.0.0.1', port: 0, ...(args.options as object) });
    running.push(origin);
    return origin.url;
  },
  async stop() {
    await Promise.all(running.map((origin) => origin.close()));
    return true;
  },
});
