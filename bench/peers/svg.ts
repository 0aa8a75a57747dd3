/**
 * Two hand-written SVG charts for the comparison report, with no plotting dependency: grouped
 * bars with min–max whiskers (throughput) and percentile curves on a log-log "nines" scale
 * (latency). Pure functions from figures to SVG text.
 */

export interface Bar {
  readonly label: string;
  readonly color: string;
  /** The bar's height: the median. */
  readonly value: number;
  /** The whisker: spread over repeats. */
  readonly min: number;
  readonly max: number;
  /** Shown above the bar (e.g. "123k msgs/s"). */
  readonly caption: string;
  /** A second, smaller caption line (e.g. "126 MB/s"). */
  readonly subcaption?: string;
}

export interface BarPanel {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
}

export interface CurveSeries {
  readonly label: string;
  readonly color: string;
  readonly dashed: boolean;
  /** One value per quantile of the chart (NaN: no point). */
  readonly valuesMs: readonly number[];
}

export interface CurvePanel {
  readonly title: string;
  readonly series: readonly CurveSeries[];
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** A "nice" axis maximum at or above `value` (1, 2, 2.5, 5 × 10^k). */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const exponent = Math.floor(Math.log10(value));
  const base = 10 ** exponent;
  for (const step of [1, 2, 2.5, 5, 10]) if (step * base >= value) return step * base;
  return 10 * base;
}

/** Compact number: 1234567 → "1.23M", 12345 → "12.3k". */
export function compactNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  if (abs >= 100 || value === 0) return value.toFixed(0);
  return value.toPrecision(3);
}

/** Panels side by side; each has its own linear y axis starting at 0. */
export function barChartSvg(title: string, panels: readonly BarPanel[]): string {
  // Each panel: 58 px of axis labels, the plot, a 22 px gap before the next.
  const axisWidth = 58;
  const plotWidth = 190;
  const panelWidth = axisWidth + plotWidth + 22;
  const plotTop = 100;
  const plotHeight = 220;
  const width = 10 + panels.length * panelWidth;
  const legendY = plotTop + plotHeight + 40;
  const legendLabels = [...new Map(panels.flatMap((p) => p.bars.map((b) => [b.label, { label: b.label, color: b.color, dashed: false }] as const))).values()];
  const height = legendY + 10 + legendRows(legendLabels, width - axisWidth - 20) * 18;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  const legend = new Map<string, string>();
  panels.forEach((panel, p) => {
    const x0 = 10 + p * panelWidth + axisWidth;
    const yMax = niceCeiling(Math.max(...panel.bars.map((b) => (Number.isFinite(b.max) ? b.max : 0)), ...panel.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
    const y = (v: number): number => plotTop + plotHeight - (Math.max(0, v) / yMax) * plotHeight;
    parts.push(`<text x="${x0 + plotWidth / 2}" y="58" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      const ty = y(v);
      parts.push(`<line x1="${x0}" y1="${f1(ty)}" x2="${x0 + plotWidth}" y2="${f1(ty)}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${x0 - 4}" y="${f1(ty + 4)}" text-anchor="end" font-size="10" fill="#555">${compactNumber(v)}</text>`);
    }
    const labelX = x0 - 44;
    parts.push(`<text x="${labelX}" y="${plotTop + plotHeight / 2}" transform="rotate(-90 ${labelX} ${plotTop + plotHeight / 2})" text-anchor="middle" font-size="10" fill="#555">${escapeXml(panel.unit)}</text>`);
    const slot = plotWidth / Math.max(1, panel.bars.length);
    const barWidth = Math.min(40, slot * 0.6);
    panel.bars.forEach((bar, b) => {
      legend.set(bar.label, bar.color);
      const cx = x0 + slot * (b + 0.5);
      if (Number.isFinite(bar.value)) {
        parts.push(`<rect x="${f1(cx - barWidth / 2)}" y="${f1(y(bar.value))}" width="${f1(barWidth)}" height="${f1(plotTop + plotHeight - y(bar.value))}" fill="${bar.color}"><title>${escapeXml(`${bar.label}: ${bar.caption}`)}</title></rect>`);
      }
      if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
        parts.push(
          `<line x1="${f1(cx)}" y1="${f1(y(bar.min))}" x2="${f1(cx)}" y2="${f1(y(bar.max))}" stroke="#222"/>`,
          `<line x1="${f1(cx - 5)}" y1="${f1(y(bar.min))}" x2="${f1(cx + 5)}" y2="${f1(y(bar.min))}" stroke="#222"/>`,
          `<line x1="${f1(cx - 5)}" y1="${f1(y(bar.max))}" x2="${f1(cx + 5)}" y2="${f1(y(bar.max))}" stroke="#222"/>`,
        );
      }
      // Captions sit above the bar or its whisker, whichever is higher.
      const topOfBar = y(Math.max(Number.isFinite(bar.max) ? bar.max : 0, Number.isFinite(bar.value) ? bar.value : 0));
      const captionY = topOfBar - (bar.subcaption === undefined ? 6 : 18);
      parts.push(`<text x="${f1(cx)}" y="${f1(captionY)}" text-anchor="middle" font-size="10">${escapeXml(bar.caption)}</text>`);
      if (bar.subcaption !== undefined) parts.push(`<text x="${f1(cx)}" y="${f1(captionY + 12)}" text-anchor="middle" font-size="9" fill="#555">${escapeXml(bar.subcaption)}</text>`);
    });
    parts.push(`<line x1="${x0}" y1="${plotTop + plotHeight}" x2="${x0 + plotWidth}" y2="${plotTop + plotHeight}" stroke="#222"/>`);
  });
  const entries = [...legend].map(([label, color]) => ({ label, color, dashed: false }));
  parts.push(...legendSvg(entries, 10 + axisWidth, legendY, width - axisWidth - 20));
  parts.push(`<text x="${width - 10}" y="${height - 4}" text-anchor="end" font-size="9" fill="#777">bars: median of repeats; whiskers: min–max</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export interface LegendEntry {
  readonly label: string;
  readonly color: string;
  readonly dashed: boolean;
  /** Line width of the sample; 6 (a colour swatch) unless dashed. */
  readonly strokeWidth?: number;
}

/** Legend entries left to right, wrapping to a new row before maxWidth. */
function legendSvg(entries: readonly LegendEntry[], x: number, y: number, maxWidth = Number.POSITIVE_INFINITY): string[] {
  const parts: string[] = [];
  let cursor = x;
  let row = y;
  for (const entry of entries) {
    const entryWidth = 40 + entry.label.length * 6.2;
    if (cursor > x && cursor + entryWidth > x + maxWidth) {
      cursor = x;
      row += 18;
    }
    parts.push(`<line x1="${f1(cursor)}" y1="${row - 4}" x2="${f1(cursor + 22)}" y2="${row - 4}" stroke="${entry.color}" stroke-width="${entry.strokeWidth ?? (entry.dashed ? 2 : 6)}"${entry.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    parts.push(`<text x="${f1(cursor + 27)}" y="${row}" font-size="11">${escapeXml(entry.label)}</text>`);
    cursor += entryWidth;
  }
  return parts;
}

/** Rows legendSvg needs for these entries within maxWidth. */
function legendRows(entries: readonly LegendEntry[], maxWidth: number): number {
  let rows = entries.length > 0 ? 1 : 0;
  let used = 0;
  for (const entry of entries) {
    const entryWidth = 40 + entry.label.length * 6.2;
    if (used > 0 && used + entryWidth > maxWidth) {
      rows++;
      used = 0;
    }
    used += entryWidth;
  }
  return rows;
}

/**
 * Latency against percentile: x is -log10(1 - q) (50 %, 90 %, 99 %, 99.9 %... equally spaced;
 * the maximum one step past 99.99 %), y is log10(ms).
 */
export function curveChartSvg(title: string, quantiles: readonly number[], panels: readonly CurvePanel[], legend: readonly LegendEntry[]): string {
  const panelWidth = 420;
  const plotWidth = 340;
  const plotHeight = 260;
  const top = 70;
  const left = 70;
  const width = left + panels.length * panelWidth;
  const height = top + plotHeight + 50 + legendRows(legend, width - left - 10) * 18;
  const nines = quantiles.map((q) => (q >= 1 ? Number.NaN : -Math.log10(1 - q)));
  const maxNines = Math.max(...nines.filter(Number.isFinite));
  const xOf = (i: number): number => {
    const n = nines[i]!;
    return Number.isFinite(n) ? n : maxNines + 0.5;
  };
  const xMin = xOf(0);
  const xMax = maxNines + 0.5;
  const values = panels.flatMap((p) => p.series.flatMap((s) => s.valuesMs.filter((v) => Number.isFinite(v) && v > 0)));
  const yLo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...values, 1))));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...values, 1)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, p) => {
    const x0 = left + p * panelWidth;
    const y0 = top;
    const px = (i: number): number => x0 + ((xOf(i) - xMin) / (xMax - xMin)) * plotWidth;
    const py = (ms: number): number => y0 + plotHeight - ((Math.log10(ms) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * plotHeight;
    parts.push(`<text x="${x0 + plotWidth / 2}" y="${top - 16}" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    for (let decade = yLo; decade <= yHi * 1.0001; decade *= 10) {
      const ty = py(decade);
      parts.push(`<line x1="${x0}" y1="${f1(ty)}" x2="${x0 + plotWidth}" y2="${f1(ty)}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${x0 - 4}" y="${f1(ty + 4)}" text-anchor="end" font-size="10" fill="#555">${decade >= 1 ? decade.toFixed(0) : decade.toString()} ms</text>`);
    }
    quantiles.forEach((q, i) => {
      const tx = px(i);
      parts.push(`<line x1="${f1(tx)}" y1="${y0}" x2="${f1(tx)}" y2="${y0 + plotHeight}" stroke="#f0f0f0"/>`);
      parts.push(`<text x="${f1(tx)}" y="${y0 + plotHeight + 14}" text-anchor="middle" font-size="9" fill="#555">${q >= 1 ? 'max' : trimPercent(q)}</text>`);
    });
    parts.push(`<text x="${x0 + plotWidth / 2}" y="${y0 + plotHeight + 30}" text-anchor="middle" font-size="10" fill="#555">percentile</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#222"/>`);
    for (const series of panel.series) {
      const points = series.valuesMs.map((v, i) => (Number.isFinite(v) && v > 0 ? `${f1(px(i))},${f1(py(v))}` : undefined)).filter((s): s is string => s !== undefined);
      if (points.length === 0) continue;
      parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${escapeXml(series.label)}</title></polyline>`);
      for (const point of points) {
        const [cx, cy] = point.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${series.color}"/>`);
      }
    }
  });
  parts.push(...legendSvg(legend, left, top + plotHeight + 52, width - left - 10));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function trimPercent(q: number): string {
  return `${Number((q * 100).toFixed(3))}`;
}
