import test from 'ava';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  evaluateTarget, readScenarioReports, renderHtmlReport, writeHtmlReport,
  type BenchResult, type Chart, type ScenarioReport,
} from '@overlay/bench';

const FIXED_NOW = () => new Date('2026-01-02T03:04:05Z');

function benchResult(overrides: Partial<BenchResult> = {}): BenchResult {
  return { metric: 'throughput', unit: 'MB/s', value: 74, baseline: 'raw TCP', baselineValue: 100, ratio: 0.74, ...overrides };
}

function scenario(name: string, when: string, results: BenchResult[], charts?: Chart[]): ScenarioReport {
  return { scenario: name, when, results, ...(charts ? { charts } : {}) };
}

async function resultsDir(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, unknown>): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'bench-report-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(directory, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return directory;
}

function render(reports: ScenarioReport[]): string {
  return renderHtmlReport(reports, { generatedAt: 'now', source: 'bench-results' });
}

const VOID_ELEMENTS = new Set(['meta', '!doctype']);
const KNOWN_TAGS = new Set(['html', 'head', 'body', 'meta', 'title', 'style', 'h1', 'h2', 'h3', 'p', 'code', 'a', 'section', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'ul', 'li',
  'svg', 'g', 'text', 'rect', 'line', 'path', 'circle', '!doctype']);

/** Every tag is one we emit, and every opened element closes in order: what a browser needs to render it as meant. */
function checkWellFormed(html: string): string | undefined {
  const stack: string[] = [];
  for (const [tag, closing, rawName] of html.matchAll(/<(\/?)([!a-zA-Z][\w-]*)[^>]*>/g)) {
    const name = rawName.toLowerCase();
    if (!KNOWN_TAGS.has(name)) return `unexpected tag ${tag}`;
    if (VOID_ELEMENTS.has(name) || tag.endsWith('/>')) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) return `${tag} closes the wrong element`;
  }
  return stack.length ? `unclosed ${stack.join(', ')}` : undefined;
}

function svgs(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

test('text from result files is escaped wherever it appears', (t) => {
  const hostile = '<script>alert("x")</script>';
  const html = render([scenario(`<img src=x onerror=alert(1)>`, `"><b>`, [benchResult({ metric: hostile, baseline: `a & b's`, unit: '<u>', target: hostile })],
    [{ title: hostile, x: '<x>', y: '<y>', series: [{ name: hostile, points: [[1, 1], [2, 2]] }] }])]);
  t.false(html.includes('<script'));
  t.false(html.includes('<img'));
  t.true(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  t.true(html.includes('a &amp; b&#39;s'));
  t.is(checkWellFormed(html), undefined);
});

test('any metric, baseline, unit, scenario or target text yields only the tags the report emits', (t) => {
  fc.assert(fc.property(fc.string(), fc.string(), fc.string(), fc.string({ minLength: 1 }), fc.string(), (metric, baseline, unit, name, target) => {
    const html = render([scenario(name, metric, [benchResult({ metric, baseline, unit, target })], [{ title: metric, x: unit, y: baseline, series: [{ name: target, points: [[0, 1]] }] }])]);
    return checkWellFormed(html) === undefined;
  }), { numRuns: 200 });
  t.pass();
});

test('simple targets are evaluated; other text is kept as it is', (t) => {
  const cases: Array<[Partial<BenchResult>, 'met' | 'unmet' | 'unknown']> = [
    [{ ratio: 0.74, target: 'ratio >= 0.5' }, 'met'],
    [{ ratio: 0.4, target: 'ratio >= 0.5' }, 'unmet'],
    [{ value: 4096, unit: 'B', target: 'value <= 4096' }, 'met'],
    [{ value: 4097, unit: 'B', target: 'value <= 4096' }, 'unmet'],
    [{ value: 4000, unit: 'B', target: 'value ≤ 4096 B' }, 'met'],
    [{ value: 10, target: 'value > 10' }, 'unmet'],
    [{ value: 4000, unit: 'B', target: 'value <= 4 KiB' }, 'unknown'],
    [{ target: 'fast enough' }, 'unknown'],
    [{ baselineValue: 0, ratio: 0, target: 'ratio >= 0.5' }, 'unknown'],
    [{ value: NaN, target: 'value <= 100' }, 'unmet'],
  ];
  for (const [overrides, expected] of cases) {
    t.is(evaluateTarget(benchResult(overrides))?.status, expected, JSON.stringify(overrides));
  }
  t.is(evaluateTarget(benchResult()), undefined);
  t.is(evaluateTarget(benchResult({ target: 'fast enough' }))?.target, 'fast enough');
});

test('the summary lists every targeted result with its verdict and counts those met', (t) => {
  const html = render([
    scenario('tunnel', 'w', [benchResult({ metric: 'good', target: 'ratio >= 0.5' }), benchResult({ metric: 'no target' })]),
    scenario('gateway', 'w', [benchResult({ metric: 'bad', ratio: 0.3, target: 'ratio >= 0.5' }), benchResult({ metric: 'odd', target: 'fast enough' })]),
  ]);
  const summary = html.slice(html.indexOf('<table class="summary">'), html.indexOf('</table>'));
  t.is([...summary.matchAll(/<tr><td>/g)].length, 3);
  t.regex(summary, /good<\/td>.*verdict met/);
  t.regex(summary, /bad<\/td>.*verdict unmet/);
  t.regex(summary, /odd<\/td>.*<td>fast enough<\/td><td class="verdict unknown">/);
  t.true(html.includes('1 of 3 targets met.'));
});

test('each chart is an SVG with one path per series, distinct colours, inside the plot', (t) => {
  const chart: Chart = { title: 'goodput', x: 'load', y: 'req/s', series: [
    { name: 'overlay', points: [[1, 100], [2, 200], [4, 390], [10, 398]] },
    { name: 'HAProxy', points: [[10, 20], [1, 100], [4, 250]] },
    { name: 'tuned', points: [[1, 100], [4, 380], [10, NaN]] },
  ] };
  const html = render([scenario('loading', 'w', [benchResult()], [chart, { ...chart, title: 'second', series: chart.series.slice(0, 1) }])]);
  const [bars, first, second] = svgs(html);
  t.is(svgs(html).length, 3);
  t.is([...bars.matchAll(/<rect class="bar"/g)].length, 2);
  const paths = [...first.matchAll(/<path class="series"[^>]* d="([^"]*)"[^>]* stroke="([^"]*)"/g)];
  t.is(paths.length, 3);
  t.is(new Set(paths.map((p) => p[2])).size, 3);
  t.is([...second.matchAll(/<path class="series"/g)].length, 1);
  t.is([...first.matchAll(/<circle class="point"/g)].length, 4 + 3 + 2, 'non-finite points are dropped');
  for (const name of ['overlay', 'HAProxy', 'tuned']) t.true(first.includes(`>${name}</text>`), `legend has ${name}`);
  // Points are drawn left to right inside the plot, and a higher value sits higher on the page.
  const overlay = [...paths[0][1].matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  t.is(overlay.length, 4);
  for (let i = 1; i < overlay.length; i++) {
    t.true(overlay[i][0] > overlay[i - 1][0]);
    t.true(overlay[i][1] < overlay[i - 1][1]);
  }
  t.true(overlay.every(([x, y]) => x >= 0 && x <= 960 && y >= 0 && y <= 400));
  t.is(checkWellFormed(html), undefined);
});

test('bars are scaled per result, and NaN or zero baselines show n/a, never NaN', (t) => {
  const html = render([scenario('dns', 'w', [
    benchResult({ value: 50, baselineValue: 100, ratio: 0.5 }),
    benchResult({ metric: 'lost', value: 7, baselineValue: 0, ratio: 0 }),
    benchResult({ metric: 'failed', value: NaN, baselineValue: NaN, ratio: NaN }),
  ])]);
  const widths = [...svgs(html)[0].matchAll(/<rect class="bar"[^>]* width="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.is(widths.length, 6);
  t.is(widths[0] * 2, widths[1]);
  t.is(widths[2], widths[1], 'each result is scaled to its own larger value');
  t.deepEqual([widths[3], widths[4], widths[5]], [0, 0, 0]);
  t.false(/NaN|Infinity/.test(html));
  t.regex(html, /lost<\/td>.*<td class="num">n\/a<\/td>/);
});

test('the newest report per scenario wins, whatever the file names', async (t) => {
  const directory = await resultsDir(t, {
    'a-tunnel-new.json': scenario('tunnel', '2026-11-22T18:00:00Z', [benchResult({ value: 222 })]),
    'tunnel.json': scenario('tunnel', '2026-11-21T18:00:00Z', [benchResult({ value: 111 })]),
    'dns.json': scenario('dns', '2026-11-01T00:00:00Z', [benchResult({ metric: 'queries/s' })]),
    'broken.json': '{"scenario": ',
    'other.json': { hello: 'world' },
    'notes.txt': 'ignored',
  });
  const { reports, skipped } = await readScenarioReports(directory);
  t.deepEqual(reports.map((r) => [r.scenario, r.results[0].value]), [['dns', 74], ['tunnel', 222]]);
  t.deepEqual(skipped.map((s) => s.file).sort(), ['broken.json', 'other.json', 'tunnel.json']);
  const file = await writeHtmlReport(directory, { order: ['tunnel', 'dns'], now: FIXED_NOW });
  t.is(file, join(directory, 'report.html'));
  const html = await readFile(file, 'utf8');
  t.true(html.includes('222 MB/s'));
  t.false(html.includes('111 MB/s'));
  t.true(html.indexOf('<h2>tunnel</h2>') < html.indexOf('<h2>dns</h2>'), 'sections follow the given order');
  t.true(html.includes('2026-01-02T03:04:05.000Z'));
  t.is(checkWellFormed(html), undefined);
});

test('an empty directory gives a report that says there are no results', async (t) => {
  const directory = await resultsDir(t, {});
  const html = await readFile(await writeHtmlReport(directory, { now: FIXED_NOW }), 'utf8');
  t.true(html.includes('No benchmark results in'));
  t.is(svgs(html).length, 0);
  t.is(checkWellFormed(html), undefined);
  t.deepEqual(await readScenarioReports(directory), { reports: [], skipped: [] }, 'report.html itself is not read back');
});

test('a missing directory is a clear error', async (t) => {
  await t.throwsAsync(writeHtmlReport(join(tmpdir(), 'no-such-bench-results-dir')), { code: 'ERR_BENCH_RESULTS', message: /cannot read benchmark results/ });
});

test('a failed measurement stored as null reads back as n/a', async (t) => {
  const directory = await resultsDir(t, { 'x.json': { scenario: 'x', when: 'w', results: [{ metric: 'm', unit: 'ms', value: null, baseline: 'b', baselineValue: 1, ratio: null }] } });
  const { reports } = await readScenarioReports(directory);
  t.true(Number.isNaN(reports[0].results[0].value));
  const html = await readFile(await writeHtmlReport(directory), 'utf8');
  t.regex(html, /<td>m<\/td><td class="num">n\/a<\/td>/);
});
