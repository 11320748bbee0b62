import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export { freePort } from '@overlay/common';

const run = promisify(execFile);

/** The built `overlay` command, run with this Node. */
export function overlayCli(): string {
  return fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
}

/** Fails, naming the Debian package to install, when an outside tool the scenario measures against is missing. */
export async function requireTool(command: string, debianPackage: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
  } catch {
    throw new Error(`${command} is not installed: apt-get install -y ${debianPackage}`);
  }
}

export interface HaproxyConfigOptions {
  /** Listen address, host:port. */
  bind: string;
  /** Further options of the bind line, e.g. `ssl crt site.pem alpn h2,http/1.1`. */
  bindOptions?: string;
  /** Server address, host:port, optionally followed by server-line options such as `maxconn 8`. */
  server: string;
  /** Extra lines for the backend section (e.g. `timeout queue 5s`). */
  backendLines?: string[];
  /** Connections HAProxy accepts at once (global and frontend). */
  maxconn?: number;
  /** Client, server, keep-alive and tunnel idle timeout, HAProxy time syntax. */
  idleTimeout?: string;
}

/**
 * The baseline proxy every scenario compares with: HAProxy, one thread, HTTP mode, reusing server-side
 * connections for any client (`http-reuse always`), in front of one server.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const { bind, bindOptions, server, backendLines = [], maxconn = 4096, idleTimeout = '60s' } = options;
  return `global
  nbthread 1
  maxconn ${maxconn}
defaults
  mode http
  maxconn ${maxconn}
  timeout connect 5s
  timeout client ${idleTimeout}
  timeout server ${idleTimeout}
  timeout http-keep-alive ${idleTimeout}
  timeout tunnel ${idleTimeout}
  http-reuse always
frontend in
  bind ${bind}${bindOptions ? ` ${bindOptions}` : ''}
  default_backend out
backend out
${backendLines.map((line) => `  ${line}\n`).join('')}  server s1 ${server}
`;
}

export interface WrkResult {
  requests: number;
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
}

/** wrk's latency distribution line, e.g. "     99%    3.52ms", in ms. */
function wrkPercentile(output: string, label: string): number {
  const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(output);
  if (!match) throw new Error(`no ${label}% line in wrk output:\n${output}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

/**
 * One wrk run (one thread, keep-alive connections unless `headers` say `Connection: close`); fails on any
 * non-2xx/3xx answer or socket error (a request unanswered after `timeoutSeconds`, wrk's 2 s by default, is one).
 */
export async function wrk(url: string, options: { connections: number; seconds: number; host: string; headers?: string[]; timeoutSeconds?: number }): Promise<WrkResult> {
  const extra = (options.headers ?? []).flatMap((header) => ['-H', header]);
  if (options.timeoutSeconds !== undefined) extra.push('--timeout', `${options.timeoutSeconds}s`);
  const { stdout } = await run('wrk', ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-H', `Host: ${options.host}`, ...extra, url], { maxBuffer: 1 << 20 });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout) ?? /(Socket errors: .*)/.exec(stdout);
  if (errors) throw new Error(`wrk against ${url}: ${errors[0]}`);
  return {
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN),
    p50: wrkPercentile(stdout, '50'),
    p99: wrkPercentile(stdout, '99'),
  };
}

/**
 * One h2load run over HTTP/2 (ALPN h2 on https URLs): `clients` connections, `streams` concurrent streams
 * each, for `seconds`; fails when any request failed.
 */
export async function h2load(url: string, options: { clients: number; streams: number; seconds: number; host: string }): Promise<{ rps: number }> {
  const { stdout } = await run('h2load', [`-c${options.clients}`, `-m${options.streams}`, `-D${options.seconds}`, '-H', `:authority: ${options.host}`, url], { maxBuffer: 1 << 20 });
  const failed = Number(/requests: .*?(\d+) failed/.exec(stdout)?.[1] ?? NaN);
  const errored = Number(/requests: .*?(\d+) errored/.exec(stdout)?.[1] ?? NaN);
  const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
  if (!(failed === 0 && errored === 0) || !Number.isFinite(rps)) throw new Error(`h2load against ${url}: ${stdout.split('\n').filter((line) => /requests:|status codes|finished/.test(line)).join('; ')}`);
  return { rps };
}

/** SIGTERM to an outside program (HAProxy, NSD) and its exit; nothing when it has already gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of metric `name` in a Prometheus text page, with its labels. */
export function metricSamples(text: string, name: string): MetricSample[] {
  const samples: MetricSample[] = [];
  const line = new RegExp(`^${name}(?:\\{([^}]*)\\})?\\s+(\\S+)$`, 'gm');
  for (const match of text.matchAll(line)) {
    const labels: Record<string, string> = {};
    for (const label of (match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[label[1]] = label[2];
    samples.push({ labels, value: Number(match[2]) });
  }
  return samples;
}
