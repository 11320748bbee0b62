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
