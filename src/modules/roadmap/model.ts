/**
 * Roadmap: types and pure rules (no I/O): statuses, priorities, node kinds, links to other modules'
 * objects, SIRET checksum, input validation (each error names its field), the PILOTE progress
 * formula and the Decidim-style roll-up of progress through the tree.
 */
import { slugify } from '../../platform/slug.ts';
import { UserError } from '../../platform/http/errors.ts';

export const STATUSES = ['a_venir', 'en_cours', 'realise', 'en_pause', 'abandonne', 'bloque', 'en_retard'] as const;
export type Status = (typeof STATUSES)[number];
export const STATUS_LABELS: Record<Status, string> = {
  a_venir: 'À venir',
  en_cours: 'En cours',
  realise: 'Réalisé',
  en_pause: 'En pause',
  abandonne: 'Abandonné',
  bloque: 'Bloqué',
  en_retard: 'En retard',
};

export const PRIORITIES = ['basse', 'normale', 'haute'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_LABELS: Record<Priority, string> = { basse: 'Basse', normale: 'Normale', haute: 'Haute' };

/** What a node is called; the tree itself may be of any depth. */
export const NODE_KINDS = ['axe', 'objectif', 'action', 'sous_action'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];
export const NODE_KIND_LABELS: Record<NodeKind, string> = { axe: 'Axe', objectif: 'Objectif', action: 'Action', sous_action: 'Sous-action' };

/** Objects of other modules an action works through, referenced by their stable id. */
export const LINK_KINDS = ['place', 'software', 'call', 'consultation', 'training_path'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];
export const LINK_LABELS: Record<LinkKind, string> = {
  place: 'Lieu',
  software: 'Logiciel des communs',
  call: 'Appel à projets',
  consultation: 'Concertation',
  training_path: 'Parcours de formation',
};
export interface Link {
  kind: LinkKind;
  id: string;
}

export const VALUE_KINDS = ['result', 'target', 'estimate'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];
export const VALUE_KIND_LABELS: Record<ValueKind, string> = { result: 'Résultat', target: 'Cible', estimate: 'Estimation' };
export const VALUE_SOURCES = ['saisie', 'import', 'calcul'] as const;
export type ValueSource = (typeof VALUE_SOURCES)[number];

export const FUNDER_KINDS = ['etat', 'ue', 'region', 'departement', 'epci', 'commune', 'autre'] as const;
export type FunderKind = (typeof FUNDER_KINDS)[number];
export const FUNDER_LABELS: Record<FunderKind, string> = {
  etat: 'État',
  ue: 'Union européenne',
  region: 'Région',
  departement: 'Département',
  epci: 'Intercommunalité',
  commune: 'Commune',
  autre: 'Autre',
};

export const TERRITORY_LEVELS = ['region', 'departement', 'epci'] as const;
export type TerritoryLevel = (typeof TERRITORY_LEVELS)[number];

export interface TerritoryRef {
  level: TerritoryLevel;
  code: string;
}

export interface Plan {
  id: string;
  slug: string;
  territory: TerritoryRef;
  region: string | null;
  departement: string | null;
  title: string;
  periodStart: string;
  periodEnd: string;
  published: boolean;
  vote: {
    date: string | null;
    deliberationRef: string | null;
    deliberationUrl: string | null;
    votesFor: number | null;
    votesAgainst: number | null;
    votesAbstention: number | null;
  };
  context: string;
  /** The voting authority (name and SIRET), for the SCDL « Budget » export. */
  authority: { name: string | null; siret: string | null };
  documents: { title: string; url: string }[];
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export interface PlanNode {
  id: string;
  planId: string;
  parentId: string | null;
  position: number;
  kind: NodeKind;
  number: string;
  title: string;
  description: string;
  leads: string[];
  partners: string[];
  publics: string[];
  startDate: string | null;
  endDate: string | null;
  status: Status;
  priority: Priority;
  tags: string[];
  links: Link[];
  weight: number;
  updatedAt: string;
}

export interface Indicator {
  id: string;
  title: string;
  unit: string;
  direction: 'up' | 'down';
  min: number | null;
  max: number | null;
  method: string;
  source: string;
  live: boolean;
}

export interface SeriesSummary {
  indicatorId: string;
  territory: TerritoryRef;
  initial: { value: number; date: string } | null;
  latest: { value: number; date: string } | null;
  target: { value: number; date: string } | null;
  count: number;
}

// ---------------------------------------------------------------------------------------------
// Checks

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar date 'YYYY-MM-DD' that exists (no 2023-02-30). */
export function isIsoDate(v: string): boolean {
  if (!ISO_DATE.test(v)) return false;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
}

export function requireDate(v: unknown, field: string, label: string): string {
  if (typeof v !== 'string' || !isIsoDate(v)) throw new UserError(`${label} doit être une date au format AAAA-MM-JJ.`, 400, field);
  return v;
}

export function optionalDate(v: unknown, field: string, label: string): string | null {
  if (v === null || v === undefined || v === '') return null;
  return requireDate(v, field, label);
}

/** Text without NUL bytes or other control characters (except tab and newlines), trimmed, bounded. */
export function cleanText(v: unknown, field: string, label: string, o: { max: number; required?: boolean; multiline?: boolean }): string {
  if (v === null || v === undefined) v = '';
  if (typeof v !== 'string') throw new UserError(`${label} doit être un texte.`, 400, field);
  // eslint-disable-next-line no-control-regex
  const bad = o.multiline ? /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (bad.test(v)) throw new UserError(`${label} contient un caractère de contrôle interdit.`, 400, field);
  if (v.includes('\ufffd')) throw new UserError(`${label} contient des octets qui ne sont pas de l’UTF-8 valide.`, 400, field);
  const s = v.trim();
  if (o.required && s === '') throw new UserError(`${label} est obligatoire.`, 400, field);
  if (s.length > o.max) throw new UserError(`${label} ne doit pas dépasser ${o.max} caractères.`, 400, field);
  return s;
}

export function textList(v: unknown, field: string, label: string, max = 50): string[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[|\n]/) : v === null || v === undefined ? [] : null;
  if (!items) throw new UserError(`${label} doit être une liste.`, 400, field);
  const out = [...new Set(items.map((x, i) => cleanText(x, `${field}[${i}]`, label, { max: 200 })).filter(Boolean))];
  if (out.length > max) throw new UserError(`${label} : ${max} éléments au plus.`, 400, field);
  return out;
}

export function oneOf<T extends string>(v: unknown, values: readonly T[], field: string, label: string, fallback?: T): T {
  if ((v === undefined || v === null || v === '') && fallback !== undefined) return fallback;
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  throw new UserError(`${label} : valeur « ${String(v).slice(0, 40)} » inconnue (attendu : ${values.join(', ')}).`, 400, field);
}

export function optionalInt(v: unknown, field: string, label: string, min = 0, max = 1_000_000): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${label} doit être un nombre entier entre ${min} et ${max}.`, 400, field);
  return n;
}

/** A decimal amount or value: numbers, or French/English text ('1 234,5', '1234.5'). */
export function parseNumber(v: unknown, field: string, label: string): number {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const s = v.trim().replace(/[\s\u00a0\u202f]/g, '').replace(',', '.');
    if (/^-?\d{1,15}(\.\d{1,6})?$/.test(s)) n = Number(s);
  }
  if (!Number.isFinite(n)) throw new UserError(`${label} doit être un nombre.`, 400, field);
  return n;
}

export function amount(v: unknown, field: string, label: string): number {
  const n = parseNumber(v, field, label);
  if (n < 0) throw new UserError(`${label} ne peut pas être négatif.`, 400, field);
  if (n >= 1e14) throw new UserError(`${label} est trop grand.`, 400, field);
  return Math.round(n * 100) / 100;
}

export function httpUrl(v: unknown, field: string, label: string): string | null {
  const s = cleanText(v, field, label, { max: 2000 });
  if (!s) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new UserError(`${label} doit être une adresse web (https://…).`, 400, field);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UserError(`${label} doit commencer par https:// ou http://.`, 400, field);
  return u.toString();
}

/**
 * SIRET: 14 digits whose Luhn checksum is valid; La Poste's establishments (SIREN 356000000) use
 * instead "the sum of the digits is a multiple of 5".
 */
export function isValidSiret(siret: string): boolean {
  if (!/^\d{14}$/.test(siret)) return false;
  if (siret.startsWith('356000000')) {
    let sum = 0;
    for (const c of siret) sum += Number(c);
    return sum % 5 === 0;
  }
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = Number(siret[13 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function parseSiret(v: unknown, field: string): string | null {
  const s = cleanText(v, field, 'Le SIRET', { max: 40 }).replace(/[\s.]/g, '');
  if (!s) return null;
  if (!/^\d{14}$/.test(s)) throw new UserError('Le SIRET a 14 chiffres.', 400, field);
  if (!isValidSiret(s)) throw new UserError(`Le SIRET ${s} n’est pas valide (sa clé de contrôle ne correspond pas).`, 400, field);
  return s;
}

const LINK_ID = /^[\w.:@-]{1,200}$/;

export function parseLinks(v: unknown, field = 'links'): Link[] {
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (typeof v === 'string') items = v.split(/[|\n]/).map((s) => s.trim()).filter(Boolean);
  else if (v === null || v === undefined) items = [];
  else throw new UserError('Les liens doivent être une liste.', 400, field);
  if (items.length > 100) throw new UserError('100 liens au plus par action.', 400, field);
  const out: Link[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    let kind: unknown;
    let id: unknown;
    if (typeof item === 'string') {
      const at = item.indexOf(':');
      kind = at > 0 ? item.slice(0, at) : item;
      id = at > 0 ? item.slice(at + 1) : '';
    } else if (item && typeof item === 'object') {
      kind = (item as Record<string, unknown>).kind;
      id = (item as Record<string, unknown>).id;
    }
    const k = oneOf(kind, LINK_KINDS, `${field}[${i}].kind`, 'Le type de lien');
    if (typeof id !== 'string' || !LINK_ID.test(id)) throw new UserError('L’identifiant lié doit comporter 1 à 200 lettres, chiffres ou « . : @ - _ ».', 400, `${field}[${i}].id`);
    const key = `${k}:${id}`;
    if (!seen.has(key)) out.push({ kind: k, id });
    seen.add(key);
  });
  return out;
}

export { slugify };

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$/;
/** An indicator's identifier: lower-case letters, digits, dots, dashes, underscores (100 at most). */
export const INDICATOR_ID = /^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$/;

/** The date of a node inside its plan's period (the plan's own dates bound every action). */
export function checkWithinPeriod(date: string | null, plan: { periodStart: string; periodEnd: string }, field: string, label: string): void {
  if (date && (date < plan.periodStart || date > plan.periodEnd)) {
    throw new UserError(`${label} (${date}) est en dehors de la période du plan (${plan.periodStart} – ${plan.periodEnd}).`, 400, field);
  }
}

/** Would making `parentId` the parent of `nodeId` create a cycle? parentOf maps each node to its parent. */
export function createsCycle(nodeId: string, parentId: string | null, parentOf: Map<string, string | null>): boolean {
  let p = parentId;
  for (let guard = 0; p && guard <= parentOf.size + 1; guard++) {
    if (p === nodeId) return true;
    p = parentOf.get(p) ?? null;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Progress

export interface Progress {
  /** 0–1, or null when it cannot be computed. */
  value: number | null;
  /** In French: how the value was obtained, or why there is none. */
  explanation: string;
}

// Formatters built once (building one costs far more than formatting a number with it).
const NUMBER = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 2 });
const EUROS = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 });

function fmt(n: number): string {
  return NUMBER.format(n);
}

/**
 * The PILOTE formula: progress = (current − initial) / (target − initial), clamped to [0, 1].
 * Works for "lower is better" indicators too (target below initial: both differences negative).
 */
export function piloteProgress(initial: number | null, current: number | null, target: number | null, unit = ''): Progress {
  const u = unit ? ` ${unit}` : '';
  if (target === null) return { value: null, explanation: 'Pas de cible : l’avancement ne peut pas être calculé.' };
  if (initial === null || current === null) return { value: null, explanation: 'Pas encore de valeur mesurée.' };
  if (target === initial) {
    const reached = current === target;
    return { value: reached ? 1 : 0, explanation: `La cible (${fmt(target)}${u}) est égale à la valeur initiale : ${reached ? 'atteinte' : 'non atteinte'}.` };
  }
  const raw = (current - initial) / (target - initial);
  const clamped = Math.min(1, Math.max(0, raw));
  let explanation = `(${fmt(current)} − ${fmt(initial)}) / (${fmt(target)} − ${fmt(initial)}) = ${fmt(raw * 100)} %`;
  if (raw > 1) explanation += ' : cible dépassée, ramené à 100 %';
  else if (raw < 0) explanation += ' : recul par rapport à la valeur initiale, ramené à 0 %';
  return { value: clamped, explanation: `${explanation}.` };
}

export interface RollupInput {
  id: string;
  parentId: string | null;
  weight: number;
  status: Status;
  /** The node's own indicators' progress values with their link weights. */
  own: { value: number | null; weight: number }[];
}

/**
 * Progress of every node: its own indicators' weighted mean when it has measured ones, else the
 * weighted mean of its children's progress (Decidim), else 100 % when marked « réalisé ».
 * Abandoned nodes are left out of their parent's mean.
 */
export function rollup(nodes: readonly RollupInput[]): Map<string, number | null> {
  const children = new Map<string | null, RollupInput[]>();
  for (const n of nodes) {
    const list = children.get(n.parentId);
    if (list) list.push(n);
    else children.set(n.parentId, [n]);
  }
  const out = new Map<string, number | null>();
  const visit = (n: RollupInput, depth: number): number | null => {
    if (depth > 10_000) return null;
    const own = n.own.filter((o) => o.value !== null && o.weight > 0);
    let value: number | null = null;
    if (own.length) value = weightedMean(own.map((o) => ({ value: o.value!, weight: o.weight })));
    const kids = (children.get(n.id) ?? []).map((c) => ({ value: visit(c, depth + 1), weight: c.weight, status: c.status }));
    if (value === null) {
      const measured = kids.filter((k) => k.value !== null && k.status !== 'abandonne' && k.weight > 0);
      if (measured.length) value = weightedMean(measured as { value: number; weight: number }[]);
      else if (n.status === 'realise') value = 1;
    }
    out.set(n.id, value);
    return value;
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  return out;
}

function weightedMean(items: { value: number; weight: number }[]): number | null {
  let w = 0;
  let s = 0;
  for (const i of items) {
    w += i.weight;
    s += i.value * i.weight;
  }
  return w > 0 ? s / w : null;
}

/** Checks a value against an indicator's bounds; the error names the field. */
export function checkBounds(value: number, ind: Pick<Indicator, 'min' | 'max' | 'unit' | 'title'>, field = 'value'): void {
  if (ind.min !== null && value < ind.min) throw new UserError(`La valeur ${fmt(value)} est sous la borne minimale de l’indicateur « ${ind.title} » (${fmt(ind.min)} ${ind.unit}).`, 400, field);
  if (ind.max !== null && value > ind.max) throw new UserError(`La valeur ${fmt(value)} dépasse la borne maximale de l’indicateur « ${ind.title} » (${fmt(ind.max)} ${ind.unit}).`, 400, field);
}

export function formatEuros(n: number): string {
  return EUROS.format(n);
}

export function formatValue(n: number | null, unit: string): string {
  if (n === null) return '—';
  const s = NUMBER.format(n);
  return unit ? `${s} ${unit}` : s;
}
