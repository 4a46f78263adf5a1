/**
 * The pure part of the planner and of "what if": no database, no I/O, so that it runs in a worker
 * thread (compute-worker.ts, through the platform's ComputePool) as well as inline (CLI, tests).
 */
import type { Territory } from '../territories/index.ts';
import {
  affectedCommunes,
  buildIndexes,
  changedCommunes,
  measureCommune,
  planGreedy,
  SERVICE_LABELS,
  summarise,
  type AreaLevel,
  type AreaSummary,
  type CommuneMeasure,
  type CoveragePlace,
  type Criterion,
  type PlanResult,
  type WhatIfChange,
} from './model.ts';

/** The communes of a territory (every commune for France, territory null). */
export function inScope(measures: CommuneMeasure[], territory: Territory | null): CommuneMeasure[] {
  if (!territory) return measures;
  const key: (m: CommuneMeasure) => string | null =
    territory.level === 'region' ? (m) => m.region : territory.level === 'departement' ? (m) => m.departement : territory.level === 'epci' ? (m) => m.epci : (m) => m.code;
  const code = territory.level === 'commune' && territory.parents.some((p) => p.level === 'commune') ? territory.parents.find((p) => p.level === 'commune')!.code : territory.code;
  return measures.filter((m) => key(m) === code);
}

/** Summary of one scope (France when territory is null). */
export function summaryOf(territory: Territory | null, measures: CommuneMeasure[], unattributedPlaces: number): AreaSummary {
  const level: AreaLevel = territory ? (territory.level === 'commune' ? 'epci' : territory.level) : 'france';
  const area = territory ? { level, code: territory.code, name: territory.name } : { level: 'france' as const, code: 'FR', name: 'France' };
  const summary = summarise(measures, area, SERVICE_LABELS.length, territory ? 0 : unattributedPlaces);
  if (territory?.level === 'commune') summary.level = 'epci'; // a single commune is summarised like a group of one
  return summary;
}

export interface PlanInput {
  territory: Territory;
  radiusKm: number;
  k: number;
  criterion: Criterion;
}

export function computePlan(all: CommuneMeasure[], q: PlanInput): PlanResult {
  return planGreedy(inScope(all, q.territory), q.criterion, q.radiusKm, q.k);
}

export interface WhatIfInput {
  territory: Territory | null;
  unattributedPlaces: number;
  close: string[];
  open: { lat: number; lon: number; services?: string[]; openSaturday?: boolean }[];
  criterion: Criterion;
}

export interface WhatIfResult {
  before: AreaSummary;
  after: AreaSummary;
  /** Uids asked to close that are not current places. */
  unknownUids: string[];
  closed: number;
  opened: number;
  changed: WhatIfChange[];
}

/** Coverage if the given places closed and places opened at the given points; only the communes a change can affect are recomputed. */
export function computeWhatIf(all: CommuneMeasure[], places: CoveragePlace[], q: WhatIfInput): WhatIfResult {
  const measures = inScope(all, q.territory);
  const known = new Set(places.map((p) => p.uid));
  const closing = new Set(q.close);
  const unknownUids = q.close.filter((u) => !known.has(u));
  const opened: CoveragePlace[] = q.open.map((o, i) => ({
    uid: `nouveau-${i + 1}`,
    lat: o.lat,
    lon: o.lon,
    services: o.services ?? [...SERVICE_LABELS],
    openSaturday: o.openSaturday ?? true,
    communeCode: null,
  }));
  const removed = places.filter((p) => closing.has(p.uid));
  const modified = [...places.filter((p) => !closing.has(p.uid)), ...opened];
  const affected = affectedCommunes(measures, [...removed, ...opened], SERVICE_LABELS, new Set(removed.map((p) => p.communeCode ?? '').filter(Boolean)));
  const ix = affected.size ? buildIndexes(modified, SERVICE_LABELS) : null;
  const after = measures.map((m) => (affected.has(m.code) && ix ? measureCommune(m, ix) : m));
  return {
    before: summaryOf(q.territory, measures, q.unattributedPlaces),
    after: summaryOf(q.territory, after, q.unattributedPlaces),
    unknownUids,
    closed: removed.length,
    opened: opened.length,
    changed: changedCommunes(measures, after, q.criterion).slice(0, 200),
  };
}
