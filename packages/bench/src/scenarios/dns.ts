import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil, startProcess } from '@overlay/common';
import { medianOfRounds, result, type BenchResult, type Scenario } from '../harness.js';
import { freePort, overlayCli, requireTool, stopChild } from '../tools.js';

const run = promisify(execFile);
const SECONDS = 4;
const WARMUP_SECONDS = 2;
const ROUNDS = 5;
const WORKERS = 2;

/** The query mix: mostly the site's A record, plus the apex SOA, a NODATA and an NXDOMAIN. */
const QUERIES = ['shop.demo.test A', 'shop.demo.test A', 'shop.demo.test A', 'shop.demo.test A', 'shop.demo.test A', 'shop.demo.test A', 'demo.test SOA', 'shop.demo.test AAAA', 'nope.demo.test A', 'demo.test NS'];

const ZONE = `$ORIGIN demo.test.
$TTL 3600
@    IN SOA ns1.demo.test. hostmaster.demo.test. 1 3600 600 86400 60
@    IN NS  ns1.demo.test.
ns1  IN A   127.0.0.1
shop 20 IN A 127.0.1.1
`;

type PerfResult = { qps: number; latencyMs: number; lost: number };

async function dnsperf(port: number, queries: string, seconds: number, dnssec: boolean): Promise<PerfResult> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '8', '-q', '200', ...(dnssec ? ['-D'] : [])];
  const { stdout } = await run('dnsperf', args, { maxBuffer: 1 << 20 });
  const number = (label: RegExp) => Number(label.exec(stdout)?.[1] ?? NaN);
  const qps = number(/Queries per second:\s+([\d.]+)/);
  const latencyMs = number(/Average Latency \(s\):\s+([\d.]+)/) * 1000;
  const lost = number(/Queries lost:\s+(\d+)/);
  if (!Number.isFinite(qps)) throw new Error(`dnsperf printed no rate:\n${stdout}`);
  return { qps, latencyMs, lost };
}

/** Waits until a DNS server answers on `port`. */
async function answering(port: number): Promise<void> {
  const soa = () => run('dig', ['+short', '+time=1', '+tries=1', '-p', String(port), '@127.0.0.1', 'demo.test', 'SOA']).then(() => true);
  if (!(await pollUntil(soa, { timeoutMs: 15_000 }))) throw new Error(`nothing answers DNS on port ${port}`);
}

async function startNsd(dir: string, name: string, zoneFile: string, serverCount: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, `${name}.conf`);
  await writeFile(conf, `server:
  server-count: ${serverCount}
  ip-address: 127.0.0.1
  port: ${port}
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/${name}.pid"
  xfrdfile: "${dir}/${name}.xfrd.state"
  zonelistfile: "${dir}/${name}.zone.list"
  database: ""
  logfile: "${dir}/${name}.log"
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: demo.test
  zonefile: ${zoneFile}
`);
  return { port, child: spawn('nsd', ['-d', '-c', conf], { stdio: 'ignore' }) };
}

/** A redirector config for the bench zone: `workers` processes, UDP batched or not, signed with `keyFile` when given. */
async function redirectorConfig(dir: string, name: string, candidate: Candidate, keyFile?: string): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    workers: candidate.workers,
    udpBatching: candidate.batching,
    zones: { 'demo.test': { ns: [{ name: 'ns1.demo.test', addresses: ['127.0.0.1'] }], ...(keyFile ? { dnssec: { keyFile } } : {}) } },
    sites: { shop: { domains: ['shop.demo.test'], frontEnds: ['pop-a', 'pop-b'] } },
    frontEnds: { 'pop-a': { addresses: ['127.0.1.1'], pop: 'pop-a' }, 'pop-b': { addresses: ['127.0.1.2'], pop: 'pop-b' } },
    popPreferences: { '10.1.0.0/16': ['pop-a', 'pop-b'], '10.2.0.0/16': ['pop-b', 'pop-a'], '0.0.0.0/0': ['pop-a', 'pop-b'] },
  }));
  return file;
}

/** NSD's pre-signed copy of the zone (ECDSA P-256, NSEC), made with ldns. */
async function presign(dir: string): Promise<string> {
  await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', 'demo.test'], { cwd: dir });
  const base = (await readdir(dir)).find((file) => /^Kdemo\.test\.\+013\+\d+\.key$/.test(file))?.replace(/\.key$/, '');
  if (!base) throw new Error('ldns-keygen made no key');
  await run('ldns-signzone', ['-f', 'demo.test.zone.signed', 'demo.test.zone', base], { cwd: dir });
  return 'demo.test.zone.signed';
}

/** One redirector set-up measured against the pairing's NSD. */
interface Candidate {
  label: string;
  workers: number;
  /** UDP through the batched addon (the default) or node:dgram, to show what batching is worth. */
  batching: boolean;
  target?: string;
}

/** NSD set up one way, and the redirector set-ups measured against it in the same interleaved rounds. */
interface Pairing {
  label: string;
  baseline: string;
  serverCount: number;
  signed: boolean;
  candidates: Candidate[];
}

const PAIRINGS: Pairing[] = [
  {
    label: 'one process',
    baseline: 'NSD, same zone, one server process',
    serverCount: 1,
    signed: false,
    candidates: [
      { label: 'one process', workers: 1, batching: true, target: 'ratio >= 0.8' },
      { label: 'one process, node:dgram', workers: 1, batching: false },
    ],
  },
  {
    label: `${WORKERS} workers`,
    baseline: `NSD, same zone, server-count ${WORKERS}`,
    serverCount: WORKERS,
    signed: false,
    candidates: [{ label: `${WORKERS} workers (node:dgram)`, workers: WORKERS, batching: false }],
  },
  {
    label: 'signed online',
    baseline: 'NSD, zone pre-signed with ldns, one server process',
    serverCount: 1,
    signed: true,
    candidates: [
      { label: 'signed online, one process', workers: 1, batching: true, target: 'ratio >= 0.8' },
      { label: 'signed online, one process, node:dgram', workers: 1, batching: false },
    ],
  },
];

export const dnsScenario: Scenario = {
  name: 'dns',
  description: `queries/s and latency with dnsperf (8 clients; ${WARMUP_SECONDS} s warm-up per server, then the median of ${ROUNDS} interleaved ${SECONDS} s rounds): the redirector vs NSD serving the same zone statically, in one process (batched UDP, and node:dgram for comparison), in ${WORKERS} workers, and signed (online vs pre-signed, DO queries)`,
  async run(progress) {
    await requireTool('dnsperf', 'dnsperf');
    await requireTool('nsd', 'nsd');
    await requireTool('dig', 'bind9-dnsutils');
    await requireTool('ldns-signzone', 'ldnsutils');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-dns-'));
    const queries = join(dir, 'queries.txt');
    await writeFile(queries, `${QUERIES.join('\n')}\n`);
    const results: BenchResult[] = [];
    try {
      await writeFile(join(dir, 'demo.test.zone'), ZONE);
      const signedZone = await presign(dir);
      const keyFile = join(dir, 'redirector-key.pem');
      await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
      for (const pairing of PAIRINGS) {
        progress(`${pairing.label}: starting ${pairing.candidates.length} redirector(s) and nsd (rate limiting off)`);
        const redirectors = await Promise.all(
          pairing.candidates.map(async (candidate, at) => {
            const config = await redirectorConfig(dir, `redirector-${pairing.label}-${at}`.replace(/\W+/g, '-'), candidate, pairing.signed ? keyFile : undefined);
            return startProcess(process.execPath, [overlayCli(), 'redirector', '--config', config]);
          }),
        );
        const nsd = await startNsd(dir, `nsd-${pairing.serverCount}-${pairing.signed}`, pairing.signed ? signedZone : 'demo.test.zone', pairing.serverCount);
        let figures: PerfResult[];
        try {
          const ports = [...redirectors.map((redirector) => Number(String(redirector.ready.dns).split(':').pop())), nsd.port];
          for (const port of ports) await answering(port);
          const paths = ports.map((target) => (phase: 'warm-up' | 'round') => dnsperf(target, queries, phase === 'warm-up' ? WARMUP_SECONDS : SECONDS, pairing.signed));
          figures = await medianOfRounds(paths, ROUNDS, (round, measured) =>
            progress(`${pairing.label} round ${round}/${ROUNDS} (${[...pairing.candidates.map((candidate) => candidate.label), 'nsd'].join(' / ')}): ${measured.map((figure) => Math.round(figure.qps)).join(' / ')} queries/s, load ${loadavg()[0]?.toFixed(2)}`));
        } finally {
          await Promise.all(redirectors.map((redirector) => redirector.stop()));
          await stopChild(nsd.child);
        }
        const baseline = figures[figures.length - 1] as PerfResult;
        for (const [at, candidate] of pairing.candidates.entries()) {
          const overlay = figures[at] as PerfResult;
          results.push(
            result(`queries per second (${candidate.label})`, 'queries/s', overlay.qps, pairing.baseline, baseline.qps, candidate.target),
            result(`average latency (${candidate.label})`, 'ms', overlay.latencyMs, pairing.baseline, baseline.latencyMs),
            result(`queries lost (${candidate.label})`, 'queries', overlay.lost, pairing.baseline, baseline.lost, 'value == 0'),
          );
        }
      }
      return results;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
