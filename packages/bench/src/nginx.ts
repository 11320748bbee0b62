import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '@overlay/common';
import { freePort, stopChild } from './tools.js';

const run = promisify(execFile);

export interface Nginx {
  /** `http://127.0.0.1:port`. */
  url: string;
  /** The one process that serves (no master: its CPU is all the origin's). */
  pid: number;
  child: ChildProcess;
}

/**
 * The fast origin every gateway path is measured against: nginx, one process, no access log, sendfile,
 * keep-alive without a request cap, serving `files` (URL path → size in bytes of zeros) from `dir` plus `/healthz`.
 */
export async function startNginx(dir: string, files: Record<string, number>): Promise<Nginx> {
  const root = join(dir, 'www');
  for (const [path, size] of Object.entries({ '/healthz': 3, ...files })) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), Buffer.alloc(size, path === '/healthz' ? 'ok\n' : 'x'));
  }
  const port = await freePort();
  const config = join(dir, 'nginx.conf');
  await writeFile(config, `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, 'nginx-body')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`);
  const child = spawn('nginx', ['-p', dir, '-c', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const up = () => run('curl', ['-sf', '-o', '/dev/null', `${url}/healthz`]).then(() => true);
  if (child.pid !== undefined && await pollUntil(up, { timeoutMs: 5_000, intervalMs: 50 })) return { url, pid: child.pid, child };
  await stopChild(child);
  throw new Error(`nginx did not come up on ${port} (see ${join(dir, 'nginx-error.log')})`);
}
