/** Runs the real `dig` (Debian bind9-dnsutils) against a server and parses its text output. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  opcode: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** The OPT pseudo-section, when the response carried one. */
  edns?: { version: number; udp: number };
  /** `10.1.2.0/24/16`: address/source/scope as dig prints the echoed ECS option. */
  clientSubnet?: string;
  output: string;
}

/** Fails (never skips) when dig is missing: these tests exist to check the server against a real client. */
export async function requireDig(): Promise<string> {
  try {
    const { stdout, stderr } = await run('dig', ['-v']);
    return (stdout + stderr).trim();
  } catch (err) {
    throw new Error(`dig is required for the redirector tests (apt-get install -y bind9-dnsutils): ${(err as Error).message}`);
  }
}

function parseRecords(lines: string[], heading: string): DigRecord[] {
  const start = lines.indexOf(`;; ${heading} SECTION:`);
  if (start < 0) return [];
  const records: DigRecord[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || line.startsWith(';')) break;
    const [name, ttl, , type, ...data] = line.split(/\s+/);
    records.push({ name: name as string, ttl: Number(ttl), type: type as string, data: data.join(' ') });
  }
  return records;
}

export function parseDig(output: string): DigResult {
  const lines = output.split('\n');
  const header = /->>HEADER<<- opcode: (\w+), status: (\w+)/.exec(output);
  if (!header) throw new Error(`dig printed no response header:\n${output}`);
  const flags = /;; flags:([^;]*);/.exec(output)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  const edns = /; EDNS: version: (\d+), flags:[^;]*; udp: (\d+)/.exec(output);
  const subnet = /; CLIENT-SUBNET: (\S+)/.exec(output);
  return {
    opcode: header[1] as string,
    status: header[2] as string,
    flags,
    answer: parseRecords(lines, 'ANSWER'),
    authority: parseRecords(lines, 'AUTHORITY'),
    additional: parseRecords(lines, 'ADDITIONAL'),
    edns: edns ? { version: Number(edns[1]), udp: Number(edns[2]) } : undefined,
    clientSubnet: subnet?.[1],
    output,
  };
}

export type Transport = 'udp' | 'tcp';

/** dig processes at once per test file: dozens started together starve a 2-core machine into timeouts. */
const MAX_CONCURRENT_DIGS = 6;
let running = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_DIGS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** One dig query; `+norec` always (we are authoritative), `+tcp` for TCP. */
export async function dig(port: number, transport: Transport, args: string[]): Promise<DigResult> {
  const argv = ['@127.0.0.1', '-p', String(port), '+norec', '+tries=2', '+time=3', ...(transport === 'tcp' ? ['+tcp'] : []), ...args];
  const { stdout } = await withSlot(() => run('dig', argv));
  return parseDig(stdout);
}
