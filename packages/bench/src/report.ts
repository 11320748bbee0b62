import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchResult, ScenarioReport } from './harness.js';
import { renderBarChart, renderLineChart } from './report-charts.js';
import { escapeHtml, formatNumber, formatWithUnit, hasUsableBaseline } from './report-format.js';
import { readScenarioReports, type SkippedFile } from './report-load.js';
import { evaluateTarget, type TargetVerdict } from './report-targets.js';

/** The report's file name inside the results directory. */
export const HTML_REPORT_FILE = 'report.html';

export interface RenderOptions {
  /** Shown in the page header, e.g. an ISO time. */
  generatedAt: string;
  /** Where the results came from, shown when there are none. */
  source: string;
  /** Scenario names in the order sections should appear; others follow by name. */
  order?: string[];
  skipped?: SkippedFile[];
}

export interface WriteHtmlReportOptions {
  order?: string[];
  now?: () => Date;
}

/**
 * Rebuilds `<directory>/report.html` from every scenario JSON in `directory` (newest per scenario) and
 * returns its path. Written to a temporary file first so a reader never sees half a page.
 */
export async function writeHtmlReport(directory: string, options: WriteHtmlReportOptions = {}): Promise<string> {
  const { reports, skipped } = await readScenarioReports(directory);
  const html = renderHtmlReport(reports, { generatedAt: (options.now ?? (() => new Date()))().toISOString(), source: directory, order: options.order, skipped });
  const file = join(directory, HTML_REPORT_FILE);
  await writeFile(`${file}.tmp`, html);
  await rename(`${file}.tmp`, file);
  return file;
}

const VERDICT_MARK: Record<TargetVerdict['status'], string> = { met: '✔ met', unmet: '✘ not met', unknown: '? not evaluated' };

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}.meta{color:#666}
table{border-collapse:collapse;width:100%;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.met{color:#1a7f37}.unmet{color:#c62828;font-weight:600}.unknown{color:#777}
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0 20px;font-size:12px}
svg .bar-heading{font-weight:600;font-size:13px}svg .grid{stroke:#eee}svg .axis,svg .tick-mark{stroke:#444;fill:none}
svg .tick,svg .bar-number{fill:#444}svg .axis-title{fill:#222}svg .no-data{fill:#888}
.empty{padding:16px;background:#fff8e1;border:1px solid #f0d58c}`;

/** The whole page: summary of targets, then one section per scenario. Pure: same input, same page. */
export function renderHtmlReport(reports: ScenarioReport[], options: RenderOptions): string {
  const ordered = orderReports(reports, options.order ?? []);
  const body = ordered.length === 0
    ? `<p class="empty">No benchmark results in <code>${escapeHtml(options.source)}</code>. Run <code>overlay bench</code> to produce some.</p>`
    : `${renderSummary(ordered)}${ordered.map(renderScenario).join('\n')}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Overlay benchmark report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Overlay benchmark report</h1>
<p class="meta">Generated ${escapeHtml(options.generatedAt)} from <code>${escapeHtml(options.source)}</code>. Every value is measured beside its baseline in the same run; compare ratios across runs, not absolute values.</p>
${body}
${renderSkipped(options.skipped ?? [])}
</body>
</html>
`;
}

function orderReports(reports: ScenarioReport[], order: string[]): ScenarioReport[] {
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  return [...reports].sort((a, b) => rank(a.scenario) - rank(b.scenario) || a.scenario.localeCompare(b.scenario));
}

/** Element ids from arbitrary scenario names: letters, digits and dashes only, the index keeps them unique. */
function sectionId(report: ScenarioReport, index: number): string {
  return `scenario-${index}-${report.scenario.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}`;
}

function renderSummary(reports: ScenarioReport[]): string {
  const targeted = reports.flatMap((report, index) => report.results.flatMap((result) => {
    const verdict = evaluateTarget(result);
    return verdict ? [{ report, index, result, verdict }] : [];
  }));
  if (targeted.length === 0) return '<h2>Targets</h2><p>No result has a target.</p>';
  const rows = targeted.map(({ report, index, result, verdict }) =>
    `<tr><td><a href="#${sectionId(report, index)}">${escapeHtml(report.scenario)}</a></td><td>${escapeHtml(result.metric)}</td><td class="num">${escapeHtml(formatWithUnit(result.value, result.unit))}</td><td class="num">${escapeHtml(formatRatio(result))}</td>${targetCells(verdict)}</tr>`);
  const met = targeted.filter(({ verdict }) => verdict.status === 'met').length;
  return `<h2>Targets</h2>
<p class="summary-count">${met} of ${targeted.length} targets met.</p>
<table class="summary"><thead><tr><th>scenario</th><th>metric</th><th>overlay</th><th>ratio</th><th>target</th><th>verdict</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function renderScenario(report: ScenarioReport, index: number): string {
  const rows = report.results.map((result) => {
    const verdict = evaluateTarget(result);
    return `<tr><td>${escapeHtml(result.metric)}</td><td class="num">${escapeHtml(formatWithUnit(result.value, result.unit))}</td><td>${escapeHtml(result.baseline)}</td><td class="num">${escapeHtml(formatWithUnit(result.baselineValue, result.unit))}</td><td class="num">${escapeHtml(formatRatio(result))}</td>${verdict ? targetCells(verdict) : '<td></td><td></td>'}</tr>`;
  });
  const charts = (report.charts ?? []).map((chart) => `<h3>${escapeHtml(chart.title)}</h3>${renderLineChart(chart)}`);
  return `<section id="${sectionId(report, index)}" class="scenario">
<h2>${escapeHtml(report.scenario)}</h2>
<p class="meta">Measured ${escapeHtml(report.when || 'at an unknown time')}.</p>
<table><thead><tr><th>metric</th><th>overlay</th><th>baseline</th><th>baseline value</th><th>ratio</th><th>target</th><th>verdict</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
${report.results.length ? `<h3>Overlay beside baseline (each pair scaled to its larger value)</h3>${renderBarChart(report.scenario, report.results)}` : '<p>No results.</p>'}
${charts.join('\n')}
</section>`;
}

function targetCells(verdict: TargetVerdict): string {
  const note = verdict.note ? ` (${verdict.note})` : '';
  return `<td>${escapeHtml(verdict.target)}</td><td class="verdict ${verdict.status}">${escapeHtml(VERDICT_MARK[verdict.status] + note)}</td>`;
}

function formatRatio(result: BenchResult): string {
  return hasUsableBaseline(result.baselineValue) ? formatNumber(result.ratio, 4) : 'n/a';
}

function renderSkipped(skipped: SkippedFile[]): string {
  if (skipped.length === 0) return '';
  const items = skipped.map((s) => `<li><code>${escapeHtml(s.file)}</code>: ${escapeHtml(s.reason)}</li>`);
  return `<h2>Files not shown</h2><ul class="skipped">${items.join('')}</ul>`;
}
