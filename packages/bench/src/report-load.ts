import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OverlayError } from '@overlay/common';
import type { BenchResult, Chart, ScenarioReport, Series } from './harness.js';

/** Bounds on what the report reads, so a stray file cannot make it huge. */
const REPORT_INPUT_LIMITS = {
  /** Result files larger than this are skipped (bytes). */
  maxFileBytes: 16 * 1024 * 1024,
  /** At most this many `*.json` files are read, in name order. */
  maxFiles: 500,
} as const;

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface LoadedReports {
  /** The newest report per scenario (by `when`), in scenario name order. */
  reports: ScenarioReport[];
  /** Files not shown: unreadable, not a scenario report, or superseded by a newer one. */
  skipped: SkippedFile[];
}

/** Reads every `*.json` scenario report in `directory`; the newest per scenario wins. */
export async function readScenarioReports(directory: string): Promise<LoadedReports> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  } catch (err) {
    throw new OverlayError('ERR_BENCH_RESULTS', `cannot read benchmark results in ${directory}: ${(err as Error).message}`, { origin: 'config', cause: err });
  }
  const skipped: SkippedFile[] = names.slice(REPORT_INPUT_LIMITS.maxFiles).map((file) => ({ file, reason: `more than ${REPORT_INPUT_LIMITS.maxFiles} result files` }));
  const newest = new Map<string, { file: string; report: ScenarioReport; time: number }>();
  for (const file of names.slice(0, REPORT_INPUT_LIMITS.maxFiles)) {
    const loaded = await readOne(join(directory, file));
    if (typeof loaded === 'string') {
      skipped.push({ file, reason: loaded });
      continue;
    }
    const time = Date.parse(loaded.when);
    const entry = { file, report: loaded, time: Number.isNaN(time) ? -Infinity : time };
    const current = newest.get(loaded.scenario);
    const [kept, dropped] = !current || entry.time > current.time ? [entry, current] : [current, entry];
    newest.set(loaded.scenario, kept);
    if (dropped) skipped.push({ file: dropped.file, reason: `older than ${kept.file} for scenario ${loaded.scenario}` });
  }
  const reports = [...newest.values()].map((entry) => entry.report).sort((a, b) => a.scenario.localeCompare(b.scenario));
  return { reports, skipped };
}

/** The report in `file`, or why it cannot be shown. */
async function readOne(file: string): Promise<ScenarioReport | string> {
  try {
    const { size } = await stat(file);
    if (size > REPORT_INPUT_LIMITS.maxFileBytes) return `larger than ${REPORT_INPUT_LIMITS.maxFileBytes} bytes`;
    return toScenarioReport(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    return (err as Error).message;
  }
}

type Loose = Record<string, unknown>;

function isObject(value: unknown): value is Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// JSON has no NaN: a failed measurement is written as null, and comes back as NaN here.
const num = (value: unknown): number => (typeof value === 'number' ? value : NaN);
const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

/** Checks the shape loosely: fields the report cannot do without are required, the rest default. */
function toScenarioReport(value: unknown): ScenarioReport | string {
  if (!isObject(value)) return 'not a JSON object';
  if (typeof value.scenario !== 'string' || !value.scenario) return 'no "scenario" name';
  if (!Array.isArray(value.results)) return 'no "results" array';
  const badResult = value.results.findIndex((r) => !isObject(r));
  if (badResult >= 0) return `results[${badResult}] is not an object`;
  const results = (value.results as Loose[]).map((r): BenchResult => ({
    metric: str(r.metric), unit: str(r.unit), value: num(r.value), baseline: str(r.baseline),
    baselineValue: num(r.baselineValue), ratio: num(r.ratio), ...(r.target === undefined || r.target === null ? {} : { target: str(r.target) }),
  }));
  const charts = Array.isArray(value.charts) ? value.charts.filter(isObject).map(toChart) : [];
  return { scenario: value.scenario, when: str(value.when), results, ...(charts.length ? { charts } : {}) };
}

function toChart(chart: Loose): Chart {
  const series = Array.isArray(chart.series) ? chart.series.filter(isObject).map(toSeries) : [];
  return { title: str(chart.title), x: str(chart.x), y: str(chart.y), series };
}

function toSeries(series: Loose): Series {
  const points = Array.isArray(series.points) ? series.points.filter((p): p is unknown[] => Array.isArray(p) && p.length >= 2) : [];
  return { name: str(series.name), points: points.map((p): [number, number] => [num(p[0]), num(p[1])]) };
}
