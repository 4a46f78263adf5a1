/**
 * Flat tables of a plan for CSV and JSON exports (API, CLI, open-data page): actions, budgets,
 * co-financing, the SCDL « Budget » lines, indicators, values, envelopes. Column names are stable
 * identifiers (snake_case); CSV is RFC 4180 (comma, CRLF, UTF-8).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { Plan } from './model.ts';
import { listEnvelopes, planBudgets } from './money.ts';
import { getSeries, getTree, planProgress } from './service.ts';

export const EXPORT_TABLES = ['actions', 'budgets', 'cofinancing', 'budget-scdl', 'indicators', 'values', 'envelopes'] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];

export const EXPORT_LABELS: Record<ExportTable, string> = {
  actions: 'Arborescence (axes, objectifs, actions) avec statut et avancement',
  budgets: 'Budgets : AP et, par année, CP, voté (BP + DM), engagé, payé',
  cofinancing: 'Cofinancements par financeur',
  'budget-scdl': 'Budget au schéma SCDL « Budget » (lignes dotées d’un compte budgétaire)',
  indicators: 'Indicateurs rattachés au plan',
  values: 'Valeurs des indicateurs (résultats, cibles, estimations) du territoire',
  envelopes: 'Enveloppes par territoire : plafond, attribué, reste',
};

type Cell = string | number | boolean | null;
export interface Table {
  columns: string[];
  rows: Cell[][];
}

/** SCDL « Budget » 0.8.3 columns, in the schema's order. */
export const SCDL_BUDGET_COLUMNS = [
  'BGT_NATDEC', 'BGT_ANNEE', 'BGT_SIRET', 'BGT_NOM', 'BGT_CONTNAT', 'BGT_CONTNAT_LABEL', 'BGT_NATURE', 'BGT_NATURE_LABEL', 'BGT_FONCTION', 'BGT_FONCTION_LABEL',
  'BGT_OPERATION', 'BGT_SECTION', 'BGT_OPBUDG', 'BGT_CODRD', 'BGT_MTREAL', 'BGT_MTBUDGPREC', 'BGT_MTRARPREC', 'BGT_MTPROPNOUV', 'BGT_MTPREV', 'BGT_CREDOUV',
  'BGT_MTRAR3112', 'BGT_ARTSPE',
];

/**
 * RFC 4180 CSV. A text cell that a spreadsheet would run as a formula (starting with = + - @ or a
 * tab) gets a leading apostrophe; numbers are written as numbers (dot decimal).
 */
export function toCsv(t: Table): string {
  const cell = (v: Cell) => {
    if (v === null) return '';
    if (typeof v === 'number') return String(v);
    let s = typeof v === 'boolean' ? (v ? 'true' : 'false') : v;
    if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [t.columns, ...t.rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export function toJson(t: Table): Record<string, Cell>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i] ?? null])));
}

const list = (v: string[]) => v.join('|');

export async function buildTable(db: Queryable, plan: Plan, table: ExportTable): Promise<Table> {
  const nodes = await getTree(db, plan.id);
  const numberOf = new Map(nodes.map((n) => [n.id, n.number]));
  switch (table) {
    case 'actions': {
      const { progress } = await planProgress(db, plan, nodes);
      const depth = new Map<string, number>();
      for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
      return {
        columns: ['plan', 'id', 'parent_id', 'parent_number', 'depth', 'position', 'kind', 'number', 'title', 'description', 'status', 'priority', 'start_date', 'end_date', 'leads', 'partners', 'publics', 'tags', 'links', 'weight', 'progress'],
        rows: nodes.map((n) => [
          plan.slug, n.id, n.parentId, n.parentId ? (numberOf.get(n.parentId) ?? '') : '', depth.get(n.id) ?? 0, n.position, n.kind, n.number, n.title, n.description, n.status, n.priority,
          n.startDate, n.endDate, list(n.leads), list(n.partners), list(n.publics), list(n.tags), list(n.links.map((l) => `${l.kind}:${l.id}`)), n.weight,
          progress.get(n.id) === null || progress.get(n.id) === undefined ? null : Math.round(progress.get(n.id)! * 1000) / 1000,
        ]),
      };
    }
    case 'budgets':
    case 'cofinancing':
    case 'budget-scdl': {
      const budgets = await planBudgets(db, plan.id);
      const title = new Map(nodes.map((n) => [n.id, n.title]));
      if (table === 'budgets') {
        const rows: Cell[][] = [];
        for (const b of budgets) {
          const base = [plan.slug, b.nodeId, numberOf.get(b.nodeId) ?? '', title.get(b.nodeId) ?? '', b.label, b.ap, b.nature];
          if (!b.years.length) rows.push([...base, null, null, null, null, null, null]);
          for (const y of b.years) rows.push([...base, y.year, y.cp, y.votedBp, y.votedDm, y.committed, y.paid]);
        }
        return { columns: ['plan', 'node_id', 'node_number', 'node_title', 'label', 'ap', 'nature', 'year', 'cp', 'voted_bp', 'voted_dm', 'committed', 'paid'], rows };
      }
      if (table === 'cofinancing') {
        const rows: Cell[][] = [];
        for (const b of budgets) for (const c of b.cofinancing) rows.push([plan.slug, b.nodeId, numberOf.get(b.nodeId) ?? '', b.label, c.kind, c.name, c.amount]);
        return { columns: ['plan', 'node_id', 'node_number', 'budget_label', 'funder_kind', 'funder_name', 'amount'], rows };
      }
      if (!plan.authority.siret || !plan.authority.name) {
        throw new UserError('L’export SCDL « Budget » demande le nom et le SIRET de la collectivité du plan.', 409, 'authority.siret');
      }
      const rows: Cell[][] = [];
      for (const b of budgets) {
        if (!b.account || !b.chapter) continue; // the SCDL needs the budget nomenclature
        const op = `${numberOf.get(b.nodeId) ? `${numberOf.get(b.nodeId)} – ` : ''}${title.get(b.nodeId) ?? ''} – ${b.label}`.slice(0, 300);
        for (const y of b.years) {
          const line = (natdec: string, amounts: Partial<Record<string, number>>) =>
            SCDL_BUDGET_COLUMNS.map((c): Cell => {
              switch (c) {
                case 'BGT_NATDEC': return natdec;
                case 'BGT_ANNEE': return y.year;
                case 'BGT_SIRET': return plan.authority.siret;
                case 'BGT_NOM': return plan.authority.name;
                case 'BGT_CONTNAT': return b.account!.code;
                case 'BGT_CONTNAT_LABEL': return b.account!.label;
                case 'BGT_NATURE': return b.chapter!.code;
                case 'BGT_NATURE_LABEL': return b.chapter!.label;
                case 'BGT_OPERATION': return op;
                case 'BGT_SECTION': return b.nature;
                case 'BGT_OPBUDG': return 'réel';
                case 'BGT_CODRD': return 'dépense';
                default: return amounts[c] ?? null;
              }
            });
          rows.push(line('budget primitif', { BGT_MTPROPNOUV: y.votedBp, BGT_CREDOUV: y.cp }));
          if (y.votedDm) rows.push(line('décision modificative', { BGT_MTPREV: y.votedBp, BGT_MTPROPNOUV: y.votedDm }));
          if (y.paid || y.committed) rows.push(line('compte administratif', { BGT_MTREAL: y.paid, BGT_MTRAR3112: Math.round((y.committed - y.paid) * 100) / 100 }));
        }
      }
      return { columns: SCDL_BUDGET_COLUMNS, rows };
    }
    case 'indicators':
    case 'values': {
      const { indicators } = await planProgress(db, plan, nodes);
      const byId = new Map<string, { ind: (typeof indicators extends Map<string, infer V> ? V : never)[number]; nodes: string[] }>();
      for (const [nodeId, items] of indicators) {
        for (const it of items) {
          const e = byId.get(it.indicator.id) ?? { ind: it, nodes: [] };
          e.nodes.push(numberOf.get(nodeId) || nodeId);
          byId.set(it.indicator.id, e);
        }
      }
      const entries = [...byId.values()].sort((a, b) => a.ind.indicator.id.localeCompare(b.ind.indicator.id));
      if (table === 'indicators') {
        return {
          columns: ['id', 'title', 'unit', 'direction', 'min', 'max', 'method', 'source', 'live', 'nodes', 'initial', 'latest', 'target', 'progress'],
          rows: entries.map(({ ind, nodes: ns }) => [
            ind.indicator.id, ind.indicator.title, ind.indicator.unit, ind.indicator.direction, ind.indicator.min, ind.indicator.max, ind.indicator.method, ind.indicator.source,
            ind.indicator.live, ns.join('|'), ind.summary.initial?.value ?? null, ind.summary.latest?.value ?? null, ind.summary.target?.value ?? null,
            ind.progress.value === null ? null : Math.round(ind.progress.value * 1000) / 1000,
          ]),
        };
      }
      const rows: Cell[][] = [];
      for (const { ind } of entries) {
        for (const v of await getSeries(db, ind.indicator.id, plan.territory)) {
          rows.push([ind.indicator.id, plan.territory.level, plan.territory.code, v.kind, v.date, v.value, v.source, v.note]);
        }
      }
      return { columns: ['indicator', 'territory_level', 'territory_code', 'kind', 'date', 'value', 'source', 'note'], rows };
    }
    case 'envelopes': {
      const envs = await listEnvelopes(db, { planId: plan.id });
      return {
        columns: ['plan', 'id', 'territory_level', 'territory_code', 'label', 'year', 'node_number', 'ceiling', 'drawn', 'remaining'],
        rows: envs.map((e) => [plan.slug, e.id, e.territory.level, e.territory.code, e.label, e.year, e.nodeId ? (numberOf.get(e.nodeId) ?? '') : '', e.ceiling, e.drawn, e.remaining]),
      };
    }
  }
}

export async function exportTable(db: Queryable, plan: Plan, table: ExportTable, format: 'csv' | 'json'): Promise<string> {
  const t = await buildTable(db, plan, table);
  return format === 'csv' ? toCsv(t) : JSON.stringify(toJson(t), null, 1);
}
