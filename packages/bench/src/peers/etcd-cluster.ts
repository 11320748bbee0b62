import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pollUntil } from '@overlay/common';

export interface EtcdCluster {
  /** Client URLs, one per member: what a manager's `store.etcd.endpoints` lists. */
  endpoints: string[];
  /** Kills every member (SIGKILL) and removes their data. */
  close(): Promise<void>;
}

/**
 * Starts a real etcd cluster of `members` on loopback (Debian `etcd-server`), data in a temporary
 * directory, and waits until every member answers /health. For tests and benchmarks; `close` kills it.
 */
export async function startEtcdCluster(members = 3): Promise<EtcdCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-etcd-'));
  const ports = await Promise.all(Array.from({ length: members * 2 }, freePort));
  const names = Array.from({ length: members }, (_, index) => `m${index + 1}`);
  const peer = (index: number) => `http://127.0.0.1:${ports[members + index]}`;
  const client = (index: number) => `http://127.0.0.1:${ports[index]}`;
  const initialCluster = names.map((name, index) => `${name}=${peer(index)}`).join(',');
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const close = async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    }));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    names.forEach((name, index) => {
      const child = spawn('etcd', [
        '--name', name, '--data-dir', join(dir, name),
        '--listen-client-urls', client(index), '--advertise-client-urls', client(index),
        '--listen-peer-urls', peer(index), '--initial-advertise-peer-urls', peer(index),
        '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `overlay-${process.pid}`,
        // Short raft timings: loopback peers, and a test wants a lost member noticed quickly.
        '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'warn',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (chunk: Buffer) => {
        logs.push(chunk.toString());
        if (logs.length > 50) logs.shift();
      });
      child.once('error', (err) => logs.push(`etcd: ${err.message} (apt-get install -y etcd-server)`));
      children.push(child);
    });
    const endpoints = names.map((_, index) => client(index));
    const healthy = await pollUntil(async () => {
      const answers = await Promise.all(endpoints.map((url) => fetch(`${url}/health`).then((res) => res.json() as Promise<{ health?: string }>)));
      return answers.every((answer) => answer.health === 'true');
    }, { timeoutMs: 20_000, intervalMs: 100 });
    if (!healthy) throw new Error(`etcd cluster did not become healthy:\n${logs.join('')}`);
    return { endpoints, close };
  } catch (err) {
    await close();
    throw err;
  }
}
