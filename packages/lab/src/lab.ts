import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayError, startProcess, type StartedProcess, type StartProcessOptions } from '@overlay/common';
import { checkPrerequisites, inNamespace, ipBatch, runCommand, type CommandOutput } from './commands.js';
import { startForwarder, type Forwarder, type LinkCounters } from './forwarder.js';
import { removeNamespaces } from './namespaces.js';
import { resolveLabOptions, type LabOptions } from './options.js';
import { hostBatch, longLegBatch, namespaceBatch, planLab, routerBatch, ROUTER_SYSCTLS, type LabHost, type LabPlan } from './plan.js';
import { claimSlot, labDirPrefix, sweepLabs, type ClaimedSlot } from './state.js';

/** The Python 3 interpreter that runs the forwarder. */
const PYTHON = process.env.OVERLAY_LAB_PYTHON ?? 'python3';
/** SIGTERM → SIGKILL grace for processes started through the lab, ms. */
const STOP_GRACE_MS = 3_000;

export interface Lab {
  readonly id: string;
  readonly options: Required<LabOptions>;
  readonly hosts: Record<string, LabHost>;
  /** The two /24s, e.g. { near: '10.156.1.0/24', far: '10.156.2.0/24' }. */
  readonly subnets: { near: string; far: string };
  /** The router namespace (bridges, TUN, forwarder); no host runs there. */
  readonly routerNamespace: string;
  /** A scratch directory for config files of what runs in the lab; removed by close(). */
  readonly dir: string;
  host(name: string): LabHost;
  /** Runs a command inside a host's namespace to completion; rejects with stderr on non-zero exit. */
  exec(host: string, command: string, args: string[], options?: { timeoutMs?: number }): Promise<CommandOutput>;
  /** Spawns a long-running process inside a host's namespace; killed (SIGTERM then SIGKILL) by close(). */
  spawn(host: string, command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** startProcess from @overlay/common (waits for the JSON ready line) inside a host's namespace; stopped by close(). */
  start(host: string, command: string, args: string[], options?: StartProcessOptions): Promise<StartedProcess>;
  /** What crossed the long leg so far, per direction (packets, bytes, drops). */
  linkCounters(): Promise<LinkCounters>;
  /** Stops everything started through the lab, the forwarder, and deletes every namespace and link it made. Idempotent. */
  close(): Promise<void>;
}

/** SIGTERM, then SIGKILL after the grace period. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

class RunningLab implements Lab {
  readonly id: string;
  readonly hosts: Record<string, LabHost>;
  readonly subnets: { near: string; far: string };
  readonly routerNamespace: string;
  dir = '';
  forwarder: Forwarder | undefined;
  private readonly spawned = new Set<ChildProcess>();
  private readonly started = new Set<StartedProcess>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly plan: LabPlan,
    readonly options: Required<LabOptions>,
    private readonly slot: ClaimedSlot,
  ) {
    this.id = plan.id;
    this.hosts = plan.hosts;
    this.subnets = plan.subnets;
    this.routerNamespace = plan.router.namespace;
  }

  host(name: string): LabHost {
    const host = this.hosts[name];
    if (!host) throw new OverlayError('ERR_LAB_UNKNOWN_HOST', `lab ${this.id} has no host "${name}"; its hosts: ${Object.keys(this.hosts).join(', ')}`);
    return host;
  }

  private argv(host: string, command: string, args: string[]): string[] {
    if (this.closing) throw new OverlayError('ERR_LAB_CLOSED', `lab ${this.id} is closed`);
    return inNamespace(this.host(host).namespace, command, args);
  }

  async exec(host: string, command: string, args: string[], options: { timeoutMs?: number } = {}): Promise<CommandOutput> {
    return runCommand('ip', this.argv(host, command, args), options);
  }

  spawn(host: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawnChild('ip', this.argv(host, command, args), options);
    this.spawned.add(child);
    child.once('exit', () => this.spawned.delete(child));
    child.once('error', () => this.spawned.delete(child));
    return child;
  }

  async start(host: string, command: string, args: string[], options: StartProcessOptions = {}): Promise<StartedProcess> {
    const started = await startProcess('ip', this.argv(host, command, args), options);
    this.started.add(started);
    started.child.once('exit', () => this.started.delete(started));
    return started;
  }

  linkCounters(): Promise<LinkCounters> {
    if (!this.forwarder || this.closing) return Promise.reject(new OverlayError('ERR_LAB_CLOSED', `lab ${this.id} has no running long leg`));
    return this.forwarder.counters();
  }

  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    await Promise.all([...this.started].map((started) => started.stop(STOP_GRACE_MS).catch(() => {})));
    await Promise.all([...this.spawned].map(terminate));
    await this.forwarder?.stop().catch(() => {});
    // Also kills what the processes above left behind (daemons they forked).
    await removeNamespaces(this.plan.namespaces);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    await this.slot.release();
  }
}

/**
 * Builds a WAN lab: one network namespace per host, near hosts and far hosts on two bridges of a router
 * namespace, and every packet between the sides through the long-leg forwarder (delay, jitter, rate cap).
 * Sweeps what crashed labs left first. On failure, removes whatever it had built.
 */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const resolved = resolveLabOptions(options);
  await checkPrerequisites(PYTHON);
  await sweepLabs();
  const slot = await claimSlot();
  const plan = planLab(slot, resolved.near, resolved.far);
  const lab = new RunningLab(plan, resolved, slot);
  try {
    lab.dir = await mkdtemp(join(tmpdir(), labDirPrefix(plan.id)));
    await ipBatch(namespaceBatch(plan));
    await runCommand('ip', inNamespace(plan.router.namespace, 'sh', ['-c', ROUTER_SYSCTLS]));
    await ipBatch(routerBatch(plan), { namespace: plan.router.namespace });
    await Promise.all(Object.values(plan.hosts).map((host) => ipBatch(hostBatch(plan, host), { namespace: host.namespace })));
    lab.forwarder = await startForwarder(plan, resolved, PYTHON);
    await ipBatch(longLegBatch(), { namespace: plan.router.namespace });
  } catch (err) {
    await lab.close();
    throw new OverlayError('ERR_LAB_SETUP', `lab ${plan.id}: setup failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return lab;
}
