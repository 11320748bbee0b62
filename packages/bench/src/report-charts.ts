import type { BenchResult, Chart } from './harness.js';
import { escapeHtml, formatNumber, formatWithUnit, truncate } from './report-format.js';

/** Chart geometry, all in CSS pixels. */
const CHART_LAYOUT = {
  width: 960,
  /** Bar chart: column for the bar's name, room after the longest bar for its number. */
  barLabelWidth: 300,
  barNumberWidth: 170,
  barHeight: 16,
  barHeadingHeight: 22,
  barGroupGap: 12,
  /** Line chart: plot area height and margins around it (axis labels and ticks live in the margins). */
  plotHeight: 320,
  margin: { top: 14, right: 24, bottom: 52, left: 80 },
  legendRowHeight: 18,
  /** Characters that fit a label column at the chart font size. */
  labelChars: 44,
  tickCount: 6,
  /** Above this many points a series is drawn as a line only, without a dot per point. */
  maxMarkedPoints: 60,
} as const;

const OVERLAY_COLOUR = '#0072b2';
const BASELINE_COLOUR = '#999999';
// Okabe–Ito colours (distinguishable with common colour blindness); past eight, dashes keep series apart.
const SERIES_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#8c564b'];
const SERIES_DASHES = ['', '7 4', '2 3'];

function svgOpen(height: number, label: string): string {
  const { width } = CHART_LAYOUT;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(label)}">`;
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x}" y="${y}"${attributes ? ` ${attributes}` : ''}>${escapeHtml(content)}</text>`;
}

/** A label cut to fit, with the whole text as a tooltip. */
function label(x: number, y: number, content: string, maxChars: number, attributes = ''): string {
  const shown = truncate(content, maxChars);
  if (shown === content) return text(x, y, content, attributes);
  return `<g><title>${escapeHtml(content)}</title>${text(x, y, shown, attributes)}</g>`;
}

/**
 * Overlay beside baseline for every result, each pair scaled to its own larger value so results in
 * different units share one chart; the numbers are printed at the end of each bar.
 */
export function renderBarChart(scenario: string, results: BenchResult[]): string {
  const { width, barLabelWidth, barNumberWidth, barHeight, barHeadingHeight, barGroupGap, labelChars } = CHART_LAYOUT;
  const barMax = width - barLabelWidth - barNumberWidth;
  const groupHeight = barHeadingHeight + 2 * barHeight + 4 + barGroupGap;
  const parts: string[] = [];
  results.forEach((result, index) => {
    const top = index * groupHeight;
    const scale = Math.max(...[result.value, result.baselineValue].filter(Number.isFinite).map(Math.abs), 0);
    const ratio = Number.isFinite(result.ratio) && result.baselineValue !== 0 ? `  (ratio ${formatNumber(result.ratio, 3)})` : '';
    parts.push(label(0, top + 15, `${result.metric}${ratio}`, 2 * labelChars, 'class="bar-heading"'));
    const bars: Array<[string, number, string]> = [['overlay', result.value, OVERLAY_COLOUR], [result.baseline, result.baselineValue, BASELINE_COLOUR]];
    bars.forEach(([name, value, colour], row) => {
      const y = top + barHeadingHeight + row * (barHeight + 4);
      const length = scale > 0 && Number.isFinite(value) ? (Math.max(0, value) / scale) * barMax : 0;
      parts.push(label(8, y + barHeight - 4, name, labelChars, 'class="bar-label"'));
      parts.push(`<rect class="bar" x="${barLabelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${colour}"/>`);
      parts.push(text(barLabelWidth + length + 6, y + barHeight - 4, formatWithUnit(value, result.unit), 'class="bar-number"'));
    });
  });
  return `${svgOpen(Math.max(groupHeight * results.length - barGroupGap, 1), `${scenario}: overlay beside baseline`)}${parts.join('')}</svg>`;
}

/** Round tick positions (1, 2 or 5 × 10^k apart) covering [min, max]; the axis spans first to last tick. */
function niceTicks(min: number, max: number, count: number = CHART_LAYOUT.tickCount): number[] {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) / 2;
    return niceTicks(min - pad, max + pad, count);
  }
  const rough = (max - min) / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const first = Math.floor(min / step) * step;
  const intervals = Math.ceil((max - first) / step - 1e-9);
  // Ranges at the edge of floating point (denormals, near Number.MAX_VALUE) get plain end ticks.
  if (!(step > 0) || !Number.isFinite(intervals) || intervals > 4 * count) return [min, max];
  return Array.from({ length: intervals + 1 }, (_, i) => Number((first + i * step).toPrecision(12)));
}

/** One line per series against shared axes, with ticks, axis titles and a legend below the plot. */
export function renderLineChart(chart: Chart): string {
  const { width, plotHeight, margin, legendRowHeight, labelChars, maxMarkedPoints } = CHART_LAYOUT;
  const series = chart.series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]) }));
  const all = series.flatMap((s) => s.points);
  const plotWidth = width - margin.left - margin.right;
  const legendTop = margin.top + plotHeight + margin.bottom;
  const height = legendTop + series.length * legendRowHeight + 8;
  const parts: string[] = [];
  if (all.length === 0) {
    parts.push(text(margin.left + plotWidth / 2, margin.top + plotHeight / 2, 'no data points', 'text-anchor="middle" class="no-data"'));
  } else {
    const xTicks = niceTicks(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
    // Zero stays on the y axis so a small difference does not look like a large one.
    const yTicks = niceTicks(Math.min(0, ...all.map((p) => p[1])), Math.max(0, ...all.map((p) => p[1])));
    const scaleX = (x: number) => margin.left + ((x - xTicks[0]) / (xTicks.at(-1)! - xTicks[0])) * plotWidth;
    const scaleY = (y: number) => margin.top + plotHeight - ((y - yTicks[0]) / (yTicks.at(-1)! - yTicks[0])) * plotHeight;
    for (const tick of yTicks) {
      const y = scaleY(tick).toFixed(1);
      parts.push(`<line class="grid" x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y}" y2="${y}"/>`);
      parts.push(text(margin.left - 6, Number(y) + 4, formatNumber(tick, 4), 'text-anchor="end" class="tick"'));
    }
    for (const tick of xTicks) {
      const x = scaleX(tick).toFixed(1);
      parts.push(`<line class="tick-mark" x1="${x}" x2="${x}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight + 5}"/>`);
      parts.push(text(Number(x), margin.top + plotHeight + 18, formatNumber(tick, 4), 'text-anchor="middle" class="tick"'));
    }
    parts.push(`<path class="axis" d="M${margin.left} ${margin.top}V${margin.top + plotHeight}H${margin.left + plotWidth}"/>`);
    series.forEach((s, index) => {
      const { stroke, dash } = seriesStyle(index);
      const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${scaleX(x).toFixed(1)} ${scaleY(y).toFixed(1)}`).join('');
      parts.push(`<path class="series" data-series="${index}" d="${d}" fill="none" stroke="${stroke}" stroke-width="2"${dash}/>`);
      if (s.points.length <= maxMarkedPoints) {
        for (const [x, y] of s.points) parts.push(`<circle class="point" cx="${scaleX(x).toFixed(1)}" cy="${scaleY(y).toFixed(1)}" r="3" fill="${stroke}"/>`);
      }
    });
  }
  parts.push(text(margin.left + plotWidth / 2, margin.top + plotHeight + 40, chart.x, 'text-anchor="middle" class="axis-title"'));
  parts.push(text(16, margin.top + plotHeight / 2, chart.y, `text-anchor="middle" class="axis-title" transform="rotate(-90 16 ${margin.top + plotHeight / 2})"`));
  series.forEach((s, index) => {
    const { stroke, dash } = seriesStyle(index);
    const y = legendTop + index * legendRowHeight;
    parts.push(`<line class="legend-swatch" x1="${margin.left}" x2="${margin.left + 28}" y1="${y}" y2="${y}" stroke="${stroke}" stroke-width="3"${dash}/>`);
    parts.push(label(margin.left + 36, y + 4, s.name, 2 * labelChars, 'class="legend-label"'));
  });
  return `${svgOpen(height, chart.title)}${parts.join('')}</svg>`;
}

function seriesStyle(index: number): { stroke: string; dash: string } {
  const stroke = SERIES_COLOURS[index % SERIES_COLOURS.length];
  const pattern = SERIES_DASHES[Math.floor(index / SERIES_COLOURS.length) % SERIES_DASHES.length];
  return { stroke, dash: pattern ? ` stroke-dasharray="${pattern}"` : '' };
}
