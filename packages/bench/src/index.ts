import { formatTable, writeReport, type Scenario, type ScenarioReport } from './harness.js';
import { writeHtmlReport } from './report.js';
import { dnsScenario } from './scenarios/dns.js';
import { edgeScenario } from './scenarios/edge.js';
import { feedScenario } from './scenarios/feed.js';
import { gatewayScenario } from './scenarios/gateway.js';
import { loadingScenario } from './scenarios/loading.js';
import { priorityScenario } from './scenarios/priority.js';
import { scaleScenario } from './scenarios/scale.js';
import { seed003Scenario } from './scenarios/seed-003.js';
import { ttfbScenario } from './scenarios/ttfb.js';
import { tunnelScenario } from './scenarios/tunnel.js';

export { formatTable, result, writeReport, type BenchResult, type Chart, type Scenario, type ScenarioOutput, type ScenarioReport, type Series } from './harness.js';
export { HTML_REPORT_FILE, renderHtmlReport, writeHtmlReport, type RenderOptions, type WriteHtmlReportOptions } from './report.js';
export { evaluateTarget, type TargetVerdict } from './report-targets.js';
export { readScenarioReports, type LoadedReports, type SkippedFile } from './report-load.js';
export { metricSamples, type MetricSample } from './tools.js';
export { startEtcdCluster, type EtcdCluster } from './peers/etcd-cluster.js';

/** Every scenario `overlay bench` knows, in the order a full run takes them. */
export const scenarios: Scenario[] = [
  tunnelScenario, gatewayScenario, edgeScenario, dnsScenario, ttfbScenario, priorityScenario, loadingScenario, seed003Scenario, scaleScenario, feedScenario,
];

export interface BenchOptions {
  names: string[];
  outDir: string;
  progress?: (line: string) => void;
}

/**
 * Runs the named scenarios (all when none named), writes one JSON per scenario, then rebuilds
 * report.html from every JSON in the directory (earlier runs of other scenarios included); returns the reports.
 */
export async function runBenchmarks(options: BenchOptions): Promise<ScenarioReport[]> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const unknown = options.names.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  const chosen = options.names.length ? scenarios.filter((s) => options.names.includes(s.name)) : scenarios;
  const reports: ScenarioReport[] = [];
  for (const scenario of chosen) {
    progress(`[${scenario.name}] ${scenario.description}`);
    const started = Date.now();
    const output = await scenario.run((line) => progress(`[${scenario.name}] ${line}`));
    const { results, charts } = Array.isArray(output) ? { results: output, charts: undefined } : output;
    const report: ScenarioReport = { scenario: scenario.name, when: new Date().toISOString(), results, ...(charts?.length ? { charts } : {}) };
    const file = await writeReport(options.outDir, report);
    progress(`[${scenario.name}] done in ${((Date.now() - started) / 1000).toFixed(1)} s, wrote ${file}`);
    reports.push(report);
  }
  // The JSON is the record; a report that fails to render must not lose the run's table.
  try {
    progress(`report: ${await writeHtmlReport(options.outDir, { order: scenarios.map((s) => s.name) })}`);
  } catch (err) {
    progress(`report.html not written: ${(err as Error).message}`);
  }
  return reports;
}

