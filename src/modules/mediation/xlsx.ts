/**
 * XLSX exports (write-excel-file: maintained, one dependency, write-only; strings are written as
 * text, never as formulas, so a cell starting with "=" stays text). The statistics of a page (its
 * totals, months and breakdowns, one sheet each) and the open-data rows, alongside their CSV.
 */
import writeXlsxFile, { type Row, type SheetData } from 'write-excel-file/node';
import { UNIT_LABELS, type Stats } from './stats.ts';

const HIDDEN = 'non diffusé';
const header = (cells: string[]): Row => cells.map((value) => ({ value, fontWeight: 'bold' as const }));
const num = (n: number | null): Row[number] => (n === null ? HIDDEN : n);

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** A workbook of a statistics page: « Synthèse », « Par mois », « Répartitions ». */
export async function statsWorkbook(title: string, s: Stats): Promise<Buffer> {
  const t = s.totals;
  const summary: SheetData = [
    [{ value: title, fontWeight: 'bold' }],
    [`Du ${s.from} au ${s.to}`],
    ...(s.hidden ? [['« non diffusé » : nombre inférieur à 5, ou qui permettrait d’en retrouver un par soustraction.'] as Row] : []),
    [],
    header(['Chiffre', 'Nombre']),
    ['Activités', num(t.activities)],
    ['Accompagnements individuels', num(t.individual)],
    ['Ateliers collectifs', num(t.collective)],
    ['Accompagnements', num(t.accompaniments)],
    ['Accompagnements de personnes suivies', num(t.followed)],
    ['Heures', num(t.hours)],
  ];
  const months: SheetData = [header(['Mois', 'Activités', 'Accompagnements']), ...s.months.map((m): Row => [m.month, num(m.activities), num(m.accompaniments)])];
  const breakdowns: SheetData = [header(['Répartition', 'Unité', 'Clé', 'Libellé', 'Nombre'])];
  for (const b of s.breakdowns) {
    for (const r of b.rows) breakdowns.push([b.title, UNIT_LABELS[b.unit], r.key, r.label, num(r.value)]);
  }
  return writeXlsxFile(
    [
      { data: summary, sheet: 'Synthèse', columns: [{ width: 40 }, { width: 14 }] },
      { data: months, sheet: 'Par mois', columns: [{ width: 10 }, { width: 12 }, { width: 18 }], stickyRowsCount: 1 },
      { data: breakdowns, sheet: 'Répartitions', columns: [{ width: 28 }, { width: 16 }, { width: 30 }, { width: 40 }, { width: 12 }], stickyRowsCount: 1 },
    ],
    {},
  ).toBuffer();
}

/** The same figures as CSV (one line per figure: section, key, label, value; empty = hidden). */
export function statsCsv(s: Stats): string {
  const q = (v: string) => (/[",;\n\r]|^[=+\-@\t]/.test(v) ? `"${(/^[=+\-@\t]/.test(v) ? `'${v}` : v).replace(/"/g, '""')}"` : v);
  const lines: string[][] = [['section', 'cle', 'libelle', 'valeur']];
  const t = s.totals;
  for (const [k, label, v] of [['activities', 'Activités', t.activities], ['individual', 'Accompagnements individuels', t.individual], ['collective', 'Ateliers collectifs', t.collective], ['accompaniments', 'Accompagnements', t.accompaniments], ['followed', 'Accompagnements de personnes suivies', t.followed], ['hours', 'Heures', t.hours]] as const) lines.push(['total', k, label, v === null ? '' : String(v)]);
  for (const m of s.months) {
    lines.push(['mois-activites', m.month, m.month, m.activities === null ? '' : String(m.activities)]);
    lines.push(['mois-accompagnements', m.month, m.month, m.accompaniments === null ? '' : String(m.accompaniments)]);
  }
  for (const b of s.breakdowns) for (const r of b.rows) lines.push([b.metric, r.key, r.label, r.value === null ? '' : String(r.value)]);
  return lines.map((l) => l.map(q).join(',')).join('\n') + '\n';
}

export interface OpenDataRow {
  territory_level: string;
  territory_code: string;
  month: string;
  figure: string;
  key: string;
  value: number | null;
}

export const OPEN_DATA_COLUMNS = ['territory_level', 'territory_code', 'month', 'figure', 'key', 'value'] as const;

/** The open-data rows as one sheet, the same columns as the CSV (an empty value is hidden). */
export async function openDataWorkbook(rows: OpenDataRow[]): Promise<Buffer> {
  const data: SheetData = [header([...OPEN_DATA_COLUMNS]), ...rows.map((r): Row => [r.territory_level, r.territory_code, r.month, r.figure, r.key, r.value])];
  return writeXlsxFile(data, { sheet: 'mediation-numerique', stickyRowsCount: 1 }).toBuffer();
}
