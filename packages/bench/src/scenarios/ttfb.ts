import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pollUntil } from '@overlay/common';
import { startLab, startLabSystem, type Lab } from '@overlay/lab';
import { result, type Chart, type Scenario } from '../harness.js';
import { haproxyConfig, requireTool } from '../tools.js';

/** One-way delay of the long leg, ms: a POP a continent away from the origins. */
const DELAY_MS = 40;
/** Fresh client connections measured per path. */
const CONNECTIONS = 20;
/** Requests per path before measuring: tunnel, HAProxy's server-side connection and JIT warm. */
const WARMUP = 5;
/** Answered at once and never cached (no-store), so every request crosses the long leg. */
const PATH = '/slow/0';
const HAPROXY_PORT = 8081;

type Path = 'overlay' | 'direct' | 'haproxy';
const BASELINE_NAMES = { direct: 'direct to origin', haproxy: 'HAProxy two-tier, http-reuse always' } as const;

interface Ttfb { median: number; p90: number; sorted: number[] }

function summarize(samples: number[]): Ttfb {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { median: at(50), p90: at(90), sorted };
}

/** Time to first byte of one request on a fresh connection from the client host, ms (curl's own clock). */
async function ttfb(lab: Lab, url: string, site: string): Promise<number> {
  const { stdout } = await lab.exec('client', 'curl', ['-s', '-o', '/dev/null', '-H', `Host: ${site}`, '-w', '%{http_code} %{time_starttransfer}', url], { timeoutMs: 10_000 });
  const [status, seconds] = stdout.trim().split(' ');
  if (status !== '200') throw new Error(`GET ${url} (Host: ${site}) answered ${status}`);
  return Number(seconds) * 1000;
}

/** HAProxy in `host`, one thread, keeping server-side connections for any client (`http-reuse always`). */
async function haproxy(lab: Lab, host: string, server: string): Promise<void> {
  const file = join(lab.dir, `haproxy-${host}.cfg`);
  await writeFile(file, haproxyConfig({ bind: `${lab.host(host).address}:${HAPROXY_PORT}`, server }));
  lab.spawn(host, 'haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
}

/** Polls until `url` answers from the client host. */
async function answering(lab: Lab, url: string, site: string): Promise<void> {
  if (!(await pollUntil(() => ttfb(lab, url, site).then(() => true), { timeoutMs: 5_000 }))) throw new Error(`${url} does not answer from the client host`);
}

export const ttfbScenario: Scenario = {
  name: 'ttfb',
  description: `time to first byte of a fresh client connection across a ${DELAY_MS} ms (one way) long leg in the WAN lab, ${CONNECTIONS} connections per path: overlay (front-end at the POP, warm tunnel) vs direct to the origin vs HAProxy at the POP → HAProxy near the origin (http-reuse always, warm)`,
  async run(progress) {
    await requireTool('curl', 'curl');
    await requireTool('haproxy', 'haproxy');
    const lab = await startLab({ delayMs: DELAY_MS });
    try {
      progress(`lab ${lab.id} up; starting origins, managers, back-end and front-ends in it`);
      const system = await startLabSystem(lab);
      const popA = system.frontEnds.find((frontEnd) => frontEnd.host === 'pop-a')!;
      const origin = system.origins.find((o) => o.host === 'origin-1')!;
      const originUrl = new URL(origin.url);
      await haproxy(lab, 'back-end', `${originUrl.hostname}:${originUrl.port || 80}`);
      await haproxy(lab, 'pop-a', `${lab.host('back-end').address}:${HAPROXY_PORT}`);
      const urls: Record<Path, string> = {
        overlay: `http://${popA.http}${PATH}`,
        direct: `${origin.url}${PATH}`,
        haproxy: `http://${lab.host('pop-a').address}:${HAPROXY_PORT}${PATH}`,
      };
      const paths = Object.keys(urls) as Path[];
      await answering(lab, urls.haproxy, system.site);

      progress(`warming every path (${WARMUP} requests each)`);
      for (let i = 0; i < WARMUP; i++) for (const path of paths) await ttfb(lab, urls[path], system.site);

      progress(`measuring ${CONNECTIONS} fresh connections per path, interleaved`);
      const samples: Record<Path, number[]> = { overlay: [], direct: [], haproxy: [] };
      // Round-robin across paths, so noise from elsewhere on the machine hits all three alike.
      for (let i = 0; i < CONNECTIONS; i++) for (const path of paths) samples[path].push(await ttfb(lab, urls[path], system.site));
      const [overlay, direct, chain] = paths.map((path) => summarize(samples[path]));
      progress(`median ttfb: overlay ${overlay.median.toFixed(1)} ms, direct ${direct.median.toFixed(1)} ms, HAProxy two-tier ${chain.median.toFixed(1)} ms`);

      const roundTrip = 2 * DELAY_MS;
      const chart: Chart = {
        title: `Time to first byte, fresh connection, ${DELAY_MS} ms one-way long leg`,
        x: 'percentile of connections',
        y: 'ttfb (ms)',
        series: ([['overlay', overlay], [BASELINE_NAMES.direct, direct], [BASELINE_NAMES.haproxy, chain]] as const).map(([name, t]) => ({
          name,
          points: t.sorted.map((ms, i) => [Math.round(((i + 1) / t.sorted.length) * 100), Math.round(ms * 100) / 100] as [number, number]),
        })),
      };
      return {
        results: [
          result('ttfb median', 'ms', overlay.median, `one long-leg round trip (2 × ${DELAY_MS} ms)`, roundTrip, 'ratio <= 1.3'),
          result('ttfb median', 'ms', overlay.median, BASELINE_NAMES.direct, direct.median, 'ratio < 1'),
          result('ttfb median', 'ms', overlay.median, BASELINE_NAMES.haproxy, chain.median),
          result('ttfb p90', 'ms', overlay.p90, BASELINE_NAMES.direct, direct.p90),
          result('ttfb p90', 'ms', overlay.p90, BASELINE_NAMES.haproxy, chain.p90),
        ],
        charts: [chart],
      };
    } finally {
      // Stops the system, both HAProxies and the forwarder; removes the namespaces and lab.dir.
      await lab.close();
    }
  },
};
