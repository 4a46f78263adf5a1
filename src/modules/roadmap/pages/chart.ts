/**
 * An indicator's series as a server-rendered SVG line chart (results as a solid line, estimates
 * dotted, targets as diamonds) with a title and description for screen readers, always followed
 * by a table of the same data. No JavaScript.
 */
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { VALUE_KIND_LABELS, formatValue, type Indicator } from '../model.ts';
import type { SeriesValue } from '../service.ts';

const W = 640;
const H = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

function fmtDate(iso: string): string {
  const [y, m, d] = iso.split('-');
  return `${d}/${m}/${y}`;
}

function niceTicks(min: number, max: number, count = 4): number[] {
  if (min === max) return [min];
  const step0 = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Math.round(v * 1e9) / 1e9);
  return out;
}

/** Samples a long series for the drawing (the table keeps every value): at most `max` points. */
function sample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  const step = (items.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(items[Math.round(i * step)]!);
  return out;
}

export function seriesChart(id: string, ind: Indicator, series: SeriesValue[]): Raw {
  const titleId = `chart-${id}-title`;
  const descId = `chart-${id}-desc`;
  if (!series.length) return html`<p>Aucune valeur n’a encore été enregistrée pour cet indicateur.</p>`;
  const time = (d: string) => Date.parse(`${d}T00:00:00Z`);
  const xs = series.map((v) => time(v.date));
  const ys = series.map((v) => v.value);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x0 === x1) {
    x0 -= 86_400_000 * 180;
    x1 += 86_400_000 * 180;
  }
  let y0 = Math.min(0, ...ys, ind.min ?? Infinity);
  let y1 = Math.max(...ys, ind.max !== null && ind.max <= Math.max(...ys) * 1.5 ? ind.max : -Infinity);
  if (y0 === y1) y1 = y0 + 1;
  const ticks = niceTicks(y0, y1);
  y0 = Math.min(y0, ticks[0]!);
  y1 = Math.max(y1, ticks[ticks.length - 1]!);
  const px = (t: number) => PAD.left + ((t - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (v: number) => H - PAD.bottom - ((v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const r = (n: number) => n.toFixed(1);
  const line = (kind: SeriesValue['kind']) =>
    sample(series.filter((v) => v.kind === kind), 400)
      .map((v, i) => `${i ? 'L' : 'M'}${r(px(time(v.date)))},${r(py(v.value))}`)
      .join('');
  const results = line('result');
  const estimates = line('estimate');
  const targets = series.filter((v) => v.kind === 'target').slice(-20);
  const firstYear = new Date(x0).getUTCFullYear();
  const lastYear = new Date(x1).getUTCFullYear();
  const yearStep = Math.max(1, Math.ceil((lastYear - firstYear + 1) / 8));
  const years: number[] = [];
  for (let y = firstYear; y <= lastYear + 1; y += yearStep) if (time(`${y}-01-01`) >= x0 && time(`${y}-01-01`) <= x1) years.push(y);
  const last = series.filter((v) => v.kind === 'result').at(-1);
  const target = targets.at(-1);
  const desc = `${series.length} valeur${series.length > 1 ? 's' : ''} du ${fmtDate(series[0]!.date)} au ${fmtDate(series.at(-1)!.date)}.${last ? ` Dernier résultat : ${formatValue(last.value, ind.unit)} (${fmtDate(last.date)}).` : ''}${target ? ` Cible : ${formatValue(target.value, ind.unit)} au ${fmtDate(target.date)}.` : ''}`;
  const svg = `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${titleId} ${descId}" xmlns="http://www.w3.org/2000/svg">
<title id="${titleId}">${esc(ind.title)}</title><desc id="${descId}">${esc(desc)}</desc>
${ticks.map((t) => `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${r(py(t))}" y2="${r(py(t))}" class="grid"/><text x="${PAD.left - 6}" y="${r(py(t) + 4)}" text-anchor="end" class="axis">${esc(formatValue(t, ''))}</text>`).join('')}
${years.map((y) => `<text x="${r(px(time(`${y}-01-01`)))}" y="${H - PAD.bottom + 18}" text-anchor="middle" class="axis">${y}</text>`).join('')}
${results ? `<path d="${results}" class="line result"/>` : ''}
${estimates ? `<path d="${estimates}" class="line estimate"/>` : ''}
${targets.map((v) => { const x = px(time(v.date)); const y = py(v.value); return `<path d="M${r(x)},${r(y - 6)}L${r(x + 6)},${r(y)}L${r(x)},${r(y + 6)}L${r(x - 6)},${r(y)}Z" class="target"/>`; }).join('')}
</svg>`;
  return html`<figure class="chart-figure">${raw(svg)}<figcaption>Ligne continue : résultats ; pointillés : estimations ; losanges : cibles.</figcaption></figure>`;
}

export function seriesTable(ind: Indicator, series: SeriesValue[], caption: string): Raw {
  if (!series.length) return html``;
  const SOURCES: Record<string, string> = { saisie: 'Saisie', import: 'Import', calcul: 'Calcul de la plateforme' };
  return html`<details class="series-table"${series.length <= 24 ? raw(' open') : ''}><summary>Tableau des ${series.length} valeur${series.length > 1 ? 's' : ''}</summary>
<table><caption>${caption}</caption><thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Valeur (${ind.unit || 'sans unité'})</th><th scope="col">Source</th><th scope="col">Note</th></tr></thead>
<tbody>${series.map((v) => html`<tr><td>${fmtDate(v.date)}</td><td>${VALUE_KIND_LABELS[v.kind]}</td><td class="num">${formatValue(v.value, '')}</td><td>${SOURCES[v.source] ?? v.source}</td><td>${v.note}</td></tr>`)}</tbody></table></details>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
