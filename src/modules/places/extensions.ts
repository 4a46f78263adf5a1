/**
 * Extension points of the places' search and standard export, for modules registered after places
 * (e.g. calls, for the regional tiers-lieux labels) without places importing them:
 *
 * - **Search filters** (`registerPlaceFilter`): a filter named by its query parameter (`label`), with
 *   its allowed values; a value stands for a set of place uids, and the search is restricted to
 *   them (`PlaceQuery.extra`). The API accepts the parameter (unknown values: 400 naming it), the
 *   site shows the filter in its search form and map.
 * - **Export contributions** (`registerExportContribution`): values a module adds to a free-text
 *   field of the standard (`autres_formations_labels`) in the places' exports.
 *
 * Both give a `version`: it changes whenever their answer may change (a label granted, renewed or
 * withdrawn, or a new day), and it is part of the API's ETags and response cache keys (with the
 * places' data version), so no cached answer outlives a change. Aggregates are keyed by the uid
 * restriction itself, so they cannot be stale either.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { PlaceRecord } from './model/types.ts';

export interface PlaceFilterOption {
  value: string;
  label: string;
}

export interface PlaceFilter {
  /** The query parameter, e.g. `label`; lower-case letters and `_`; never a standard field. */
  key: string;
  /** The filter's name in French, e.g. « Label régional ». */
  label: string;
  /** The allowed values with their French labels, in display order. */
  options(db: Queryable): Promise<PlaceFilterOption[]>;
  /** The places a value stands for (visible or not; the search applies its own rules). */
  uidsFor(db: Queryable, value: string): Promise<string[]>;
  /** Changes whenever `options` or `uidsFor` may answer differently. */
  version(db: Queryable): Promise<string>;
}

/** Free-text fields of the standard a module may add to in exports. */
export type ContributionField = 'autres_formations_labels';

export interface ExportContribution {
  id: string;
  field: ContributionField;
  /** Values to add, by place uid (only the places concerned). */
  values(db: Queryable): Promise<Map<string, string[]>>;
  version(db: Queryable): Promise<string>;
}

const filters = new Map<string, PlaceFilter>();
const contributions = new Map<string, ExportContribution>();
const RESERVED = new Set(['q', 'near', 'radius', 'territory', 'bbox', 'open_now', 'open_at', 'open_on_weekend', 'online_booking', 'sort', 'limit', 'cursor', 'fields', 'page', 'approximate', 'spreadsheet', 'by']);

export function registerPlaceFilter(f: PlaceFilter, reserved: readonly string[] = []): void {
  if (!/^[a-z][a-z_]{1,30}$/.test(f.key) || RESERVED.has(f.key) || reserved.includes(f.key)) throw new Error(`registerPlaceFilter: invalid or reserved key "${f.key}"`);
  filters.set(f.key, f);
}

export function placeFilters(): PlaceFilter[] {
  return [...filters.values()];
}

export function registerExportContribution(c: ExportContribution): void {
  if (!/^[a-z0-9.-]{1,60}$/.test(c.id)) throw new Error(`registerExportContribution: invalid id "${c.id}"`);
  contributions.set(c.id, c);
}

/** The version of every extension (filters and contributions), '' when there is none. */
export async function extensionsVersion(db: Queryable): Promise<string> {
  const parts = await Promise.all([...filters.values(), ...contributions.values()].map((x) => x.version(db)));
  return parts.join('|');
}

/** Reads the registered filters' values from a query object (repeated or `a|b`); unknown values: 400 naming the parameter. */
export async function readFilterValues(db: Queryable, query: Record<string, unknown>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const f of filters.values()) {
    if (!Object.prototype.hasOwnProperty.call(query, f.key)) continue;
    const raw = query[f.key];
    const list = (Array.isArray(raw) ? raw : [raw]).filter((x): x is string => typeof x === 'string');
    const values = [...new Set(list.flatMap((x) => x.split('|')).map((x) => x.trim()).filter(Boolean))];
    if (!values.length) continue;
    const allowed = new Set((await f.options(db)).map((o) => o.value));
    const bad = values.find((v) => !allowed.has(v));
    if (bad !== undefined) {
      throw new UserError(`Valeur inconnue pour « ${f.key} » : « ${bad.slice(0, 60)} ». Valeurs acceptées : ${[...allowed].join(', ') || 'aucune pour l’instant'}.`, 400, f.key);
    }
    out[f.key] = values;
  }
  return out;
}

/**
 * The uids the registered filters restrict a search to (several values of one filter: any of
 * them; several filters: all of them), sorted; null when no filter is set.
 */
export async function restrictionOf(db: Queryable, extra: Record<string, string[]> | undefined): Promise<string[] | null> {
  let result: Set<string> | null = null;
  for (const [key, values] of Object.entries(extra ?? {})) {
    const f = filters.get(key);
    if (!f) throw new UserError(`Filtre inconnu : « ${key.slice(0, 60)} ».`, 400, key.slice(0, 60));
    if (!values.length) continue;
    const any = new Set<string>();
    for (const v of values) for (const uid of await f.uidsFor(db, v)) any.add(uid);
    const prev = result as Set<string> | null;
    result = prev === null ? any : new Set([...any].filter((u) => prev.has(u)));
  }
  return result === null ? null : [...(result as Set<string>)].sort();
}

/** What the registered contributions add to the export, by place uid and field. */
export async function exportAdditions(db: Queryable): Promise<Map<string, Partial<Record<ContributionField, string[]>>>> {
  const out = new Map<string, Partial<Record<ContributionField, string[]>>>();
  for (const c of contributions.values()) {
    for (const [uid, values] of await c.values(db)) {
      const entry = out.get(uid) ?? {};
      entry[c.field] = [...(entry[c.field] ?? []), ...values];
      out.set(uid, entry);
    }
  }
  return out;
}

/** A record with the contributions added: the free text keeps its own value first, then the new ones `|`-separated, each once. */
export function withAdditions(r: PlaceRecord, add: Partial<Record<ContributionField, string[]>> | undefined): PlaceRecord {
  if (!add) return r;
  const out = { ...r };
  for (const [field, values] of Object.entries(add) as [ContributionField, string[]][]) {
    const current = out[field] ? out[field]!.split('|').map((x) => x.trim()).filter(Boolean) : [];
    const merged = [...current];
    for (const v of values) if (!merged.includes(v)) merged.push(v.replace(/\|/g, '/'));
    out[field] = merged.length ? merged.join('|') : null;
  }
  return out;
}
