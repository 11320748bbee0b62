import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil, startProcess } from '@overlay/common';
import { medianOfRounds, result, type Scenario } from '../harness.js';
import { freePort, overlayCli, requireTool, stopChild } from '../tools.js';

const run = promisify(execFile);
const SECONDS = 4;
const WARMUP_SECONDS = 2;
const ROUNDS = 3;

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

async function dnsperf(port: number, queries: string, seconds: number): Promise<PerfResult> {
  const { stdout } = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '8', '-q', '200'], { maxBuffer: 1 << 20 });
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
  if (!(await pollUntil(soa, { timeoutMs: 10_000 }))) throw new Error(`nothing answers DNS on port ${port}`);
}

export const dnsScenario: Scenario = {
  name: 'dns',
  description: `queries/s and latency with dnsperf (8 clients; ${WARMUP_SECONDS} s warm-up per server, then the median of ${ROUNDS} interleaved ${SECONDS} s rounds): the redirector vs NSD serving the same zone statically, one process each`,
  async run(progress) {
    await requireTool('dnsperf', 'dnsperf');
    await requireTool('nsd', 'nsd');
    await requireTool('dig', 'bind9-dnsutils');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-dns-'));
    const queries = join(dir, 'queries.txt');
    await writeFile(queries, `${QUERIES.join('\n')}\n`);
    try {
      const redirectorConfig = join(dir, 'redirector.json');
      await writeFile(redirectorConfig, JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        zones: { 'demo.test': { ns: [{ name: 'ns1.demo.test', addresses: ['127.0.0.1'] }] } },
        sites: { shop: { domains: ['shop.demo.test'], frontEnds: ['pop-a', 'pop-b'] } },
        frontEnds: { 'pop-a': { addresses: ['127.0.1.1'], pop: 'pop-a' }, 'pop-b': { addresses: ['127.0.1.2'], pop: 'pop-b' } },
        popPreferences: { '10.1.0.0/16': ['pop-a', 'pop-b'], '10.2.0.0/16': ['pop-b', 'pop-a'], '0.0.0.0/0': ['pop-a', 'pop-b'] },
      }));
      const nsdPort = await freePort();
      await writeFile(join(dir, 'demo.test.zone'), ZONE);
      await writeFile(join(dir, 'nsd.conf'), `server:
  server-count: 1
  ip-address: 127.0.0.1
  port: ${nsdPort}
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  xfrdfile: "${dir}/xfrd.state"
  zonelistfile: "${dir}/zone.list"
  logfile: "${dir}/nsd.log"
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: demo.test
  zonefile: demo.test.zone
`);
      progress('starting overlay redirector');
      const redirector = await startProcess(process.execPath, [overlayCli(), 'redirector', '--config', redirectorConfig]);
      progress(`starting nsd on port ${nsdPort} (rate limiting off)`);
      const nsd = spawn('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { stdio: 'ignore' });
      let overlay: PerfResult;
      let baseline: PerfResult;
      try {
        const port = Number(String(redirector.ready.dns).split(':').pop());
        await answering(port);
        await answering(nsdPort);
        progress('dnsperf: redirector / nsd');
        const paths = [port, nsdPort].map((target) => (phase: 'warm-up' | 'round') => dnsperf(target, queries, phase === 'warm-up' ? WARMUP_SECONDS : SECONDS));
        [overlay, baseline] = await medianOfRounds(paths, ROUNDS, (round, figures) =>
          progress(`round ${round}/${ROUNDS}: ${figures.map((figure) => Math.round(figure.qps)).join(' / ')} queries/s`));
      } finally {
        await redirector.stop();
        await stopChild(nsd);
      }
      return [
        result('queries per second', 'queries/s', overlay.qps, 'NSD, same zone, one server process', baseline.qps, 'ratio >= 0.5'),
        result('average latency', 'ms', overlay.latencyMs, 'NSD, same zone, one server process', baseline.latencyMs),
        result('queries lost', 'queries', overlay.lost, 'NSD, same zone, one server process', baseline.lost),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
