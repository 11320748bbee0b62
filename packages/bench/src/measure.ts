import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Heap and external bytes after a full collection: what objects really hold, without allocator slack. */
export async function settledMemory(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

export function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** A benchmark peer in its own process, spoken to over IPC with request/response messages. */
export class Peer {
  private nextId = 1;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: { id: number; value?: unknown; error?: string }) => {
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message.error ? Promise.reject(new Error(message.error)) : message.value);
    });
  }

  static async start(module: string): Promise<Peer> {
    const child = fork(module, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await once(child, 'spawn');
    return new Peer(child);
  }

  call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (value: unknown) => void);
      this.child.send({ id, command, args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
  }
}

/** Serves `handlers` over IPC in a peer process. */
export function servePeer(handlers: Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown>): void {
  process.on('message', (message: { id: number; command: string; args: Record<string, unknown> }) => {
    Promise.resolve()
      .then(() => {
        const handler = handlers[message.command];
        if (!handler) throw new Error(`unknown command ${message.command}`);
        return handler(message.args);
      })
      .then(
        (value) => process.send?.({ id: message.id, value }),
        (error: Error) => process.send?.({ id: message.id, error: error.message }),
      );
  });
}
