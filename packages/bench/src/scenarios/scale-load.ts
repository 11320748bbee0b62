/** Light closed-loop load and connection counts for the scale scenario. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { SITE } from './scale-processes.js';

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

/** wrk's latency distribution line, e.g. "     99%    3.52ms", in ms. */
function percentile(output: string, label: string): number {
  const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(output);
  if (!match) throw new Error(`no ${label}% line in wrk output:\n${output}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

async function wrk(url: string, seconds: number): Promise<string> {
  const { stdout } = await run('wrk', ['-t1', `-c${LOAD_CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${SITE}`, `${url}${LOAD_PATH}`], { maxBuffer: 1 << 20 });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout) ?? /(Socket errors: .*)/.exec(stdout);
  if (errors) throw new Error(`wrk against ${url}: ${errors[0]}`);
  return stdout;
}

/** Warms a fresh server (JIT, pools) under the same load, so its memory baseline and first latency are steady. */
export async function warm(url: string, seconds: number): Promise<void> {
  await wrk(url, seconds);
}

/** p50/p99 of 1 KiB GETs from `LOAD_CONNECTIONS` keep-alive connections for `LOAD_SECONDS`, and the CPU `pids` spent on them. */
export async function latency(url: string, pids: number[]): Promise<Latency> {
  const cpuBefore = await totalCpu(pids);
  const stdout = await wrk(url, LOAD_SECONDS);
  const cpu = (await totalCpu(pids)) - cpuBefore;
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  return {
    p50: percentile(stdout, '50'),
    p99: percentile(stdout, '99'),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN),
    cpuMsPerRequest: (cpu * 1000) / requests,
  };
}

/** Established TCP connections whose local port is `port`, as the kernel sees them (server side). */
export async function establishedAt(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { maxBuffer: 16 << 20 });
  return stdout.split('\n').filter((line) => line.trim()).length;
}
