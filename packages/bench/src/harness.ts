import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One measurement beside its baseline, measured in the same run (ratio = value / baselineValue). */
export interface BenchResult {
  metric: string;
  unit: string;
  value: number;
  baseline: string;
  baselineValue: number;
  ratio: number;
  /** Optional target from the issue that asked for it, e.g. "ratio >= 0.5". */
  target?: string;
}

/** A line of measured points, e.g. goodput (y) against offered load (x). */
export interface Series {
  name: string;
  points: Array<[x: number, y: number]>;
}

/** A chart for the HTML report: the overlay's series beside its baselines' series. */
export interface Chart {
  title: string;
  x: string;
  y: string;
  series: Series[];
}

export interface ScenarioReport {
  scenario: string;
  when: string;
  results: BenchResult[];
  charts?: Chart[];
}

/** What a scenario measured: results (value beside baseline) and, optionally, curves for the report. */
export interface ScenarioOutput {
  results: BenchResult[];
  charts?: Chart[];
}

export interface Scenario {
  name: string;
  description: string;
  run(progress: (line: string) => void): Promise<BenchResult[] | ScenarioOutput>;
}

export function result(metric: string, unit: string, value: number, baseline: string, baselineValue: number, target?: string): BenchResult {
  const ratio = baselineValue === 0 ? 0 : value / baselineValue;
  return { metric, unit, value: round(value), baseline, baselineValue: round(baselineValue), ratio: round(ratio, 3), ...(target ? { target } : {}) };
}

/** `value` to `digits` decimals: results and chart points need no more. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The middle value (the upper middle of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

/**
 * Measures every path in the same conditions: one warm-up run each (JIT, pools, adaptive limits), then
 * `rounds` rounds, each path once per round, interleaved. Each figure is the median over the rounds, so
 * one noisy moment on a shared machine does not decide a ratio. `onRound` sees each round's figures.
 */
export async function medianOfRounds<M extends Record<string, number>>(
  paths: ReadonlyArray<(phase: 'warm-up' | 'round') => Promise<M>>,
  rounds: number,
  onRound: (round: number, figures: M[]) => void,
): Promise<M[]> {
  for (const measure of paths) await measure('warm-up');
  const seen: M[][] = paths.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    const figures: M[] = [];
    for (const [index, measure] of paths.entries()) {
      const figure = await measure('round');
      seen[index].push(figure);
      figures.push(figure);
    }
    onRound(round, figures);
  }
  return seen.map((runs) => {
    const medians: Record<string, number> = {};
    for (const key of Object.keys(runs[0])) medians[key] = median(runs.map((run) => run[key]));
    return medians as M;
  });
}

export async function writeReport(directory: string, report: ScenarioReport): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = join(directory, `${report.scenario}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** A plain-text table of every result, baseline beside it. */
export function formatTable(reports: ScenarioReport[]): string {
  const rows = [['scenario', 'metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'target']];
  for (const report of reports) {
    for (const r of report.results) {
      rows.push([report.scenario, r.metric, String(r.value), r.unit, r.baseline, String(r.baselineValue), String(r.ratio), r.target ?? '']);
    }
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}
