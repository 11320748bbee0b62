/** Light closed-loop load and connection counts for the scale scenario. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { SITE } from './scale-processes.js';
import { wrk, type WrkResult } from '../tools.js';

const run = promisify(execFile);
/** Requests in flight at once: light load whose latency shows what holding many idle connections costs. */
export const LOAD_CONNECTIONS = 8;
export const LOAD_SECONDS = 3;
const LOAD_PATH = '/bytes/1024';
/** Linux's USER_HZ: the unit of a process's CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Latency {
  p50: number;
  p99: number;
  rps: number;
  /** CPU the given processes spent per request, ms: steadier than latency on a shared machine. */
  cpuMsPerRequest: number;
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

async function totalCpu(pids: number[]): Promise<number> {
  return (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
}

function load(url: string, seconds: number): Promise<WrkResult> {
  return wrk(`${url}${LOAD_PATH}`, { connections: LOAD_CONNECTIONS, seconds, host: SITE });
}

/** Warms a fresh server (JIT, pools) under the same load, so its memory baseline and first latency are steady. */
export async function warm(url: string, seconds: number): Promise<void> {
  await load(url, seconds);
}

/** p50/p99 of 1 KiB GETs from `LOAD_CONNECTIONS` keep-alive connections for `LOAD_SECONDS`, and the CPU `pids` spent on them. */
export async function latency(url: string, pids: number[]): Promise<Latency> {
  const cpuBefore = await totalCpu(pids);
  const { p50, p99, rps, requests } = await load(url, LOAD_SECONDS);
  const cpu = (await totalCpu(pids)) - cpuBefore;
  return { p50, p99, rps, cpuMsPerRequest: (cpu * 1000) / requests };
}

/** Established TCP connections whose local port is `port`, as the kernel sees them (server side). */
export async function establishedAt(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { maxBuffer: 16 << 20 });
  return stdout.split('\n').filter((line) => line.trim()).length;
}
