/**
 * What Node itself costs per request on this machine, each in its own process: a bare `node:http` server
 * answering 1 KiB, and an undici Pool client fetching as fast as it can.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { Pool } from 'undici';
import { servePeer } from '../measure.js';

const BODY = Buffer.alloc(1024, 'x');
const closers: Array<() => Promise<unknown>> = [];

servePeer({
  async serve() {
    const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
      res.end(BODY);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  },
  /** `connections` loops, each one request at a time, for `seconds`; resolves with the answers counted. */
  async load(args) {
    const { url, path, host, connections, seconds } = args as { url: string; path: string; host: string; connections: number; seconds: number };
    const pool = new Pool(url, { connections });
    const end = Date.now() + seconds * 1000;
    let answered = 0;
    const loop = async () => {
      while (Date.now() < end) {
        const { statusCode, body } = await pool.request({ path, method: 'GET', headers: { host } });
        await body.dump();
        if (statusCode !== 200) throw new Error(`undici load: status ${statusCode}`);
        answered++;
      }
    };
    await Promise.all(Array.from({ length: connections }, loop));
    await pool.close();
    return answered;
  },
  async stop() {
    await Promise.all(closers.map((close) => close()));
    return true;
  },
});
