/**
 * The audit journal in words, for the back office: who did what to which object, as French
 * sentences (each module's wordings, src/platform/audit/wording.ts), each object named and linked,
 * filtered by person, module, kind of object, object and dates, paged by cursor (the entry number).
 *
 * Least privilege: holders of `audit.read` read every entry. Anyone else reads only the entries
 * about objects whose kind names a permission they hold on that very object (a place manager: the
 * entries about their place; a département's staff: the calls, plans, places… of their
 * département), checked with `can` on the object's territory; kinds without such a permission, and
 * objects that can no longer be placed, stay hidden. Personal objects (followed beneficiaries,
 * mandates) are never named. A link is given only when the reader may read that object's entries.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { listAudit, type AuditEntry } from '../../platform/audit/index.ts';
import { actionsOf, auditVocabularies, objectKind, sentenceParts, uuidsIn, type AuditObjectInfo, type AuditRef } from '../../platform/audit/wording.ts';
import { can, scopesFor, type Action, type Actor, ACTIONS } from './model.ts';

export interface JournalFilters {
  /** A user id (links from names) … */
  personId?: string;
  /** … or words of a person's name (and e-mail, for those who manage accounts). */
  person?: string;
  module?: string;
  objectType?: string;
  objectId?: string;
  /** Days, YYYY-MM-DD, in Paris time, both included. */
  from?: string;
  to?: string;
  /** Cursor: entries numbered below this. */
  before?: number;
}

/** A named (and maybe linked) object in a sentence. */
export interface NamedObject {
  noun: string;
  label: string | null;
  quote: boolean;
  href: string | null;
}

export type SentencePart = string | NamedObject;

export interface JournalLine {
  entry: AuditEntry;
  actor: { label: string; id: string | null };
  parts: SentencePart[];
  module: string | null;
}

export interface JournalPage {
  lines: JournalLine[];
  /** The cursor of the next (older) page, or null at the start of the trail. */
  next: number | null;
  /** Whether the reader sees every entry (audit.read) or a part. */
  full: boolean;
  /** Entries read to fill this page (a scoped reader's page may be short: older ones may follow). */
  scanned: number;
}

const PAGE = 50;
const BATCH = 200;
/** A scoped reader's page stops after reading this many entries (the next page continues). */
const MAX_SCAN = 2000;

const isAction = (a: string): a is Action => Object.hasOwn(ACTIONS, a);

/** Kinds of object the reader may read entries about somewhere (null: all, for audit.read). */
export function readableKinds(actor: Actor): string[] | null {
  if (can(actor, 'audit.read')) return null;
  const out: string[] = [];
  for (const v of auditVocabularies()) {
    for (const [type, kind] of Object.entries(v.objects ?? {})) {
      if (!kind.readAction || !isAction(kind.readAction)) continue;
      const s = scopesFor(actor, kind.readAction);
      if (s.platform || s.regions.length || s.departements.length || s.places.length) out.push(type);
    }
  }
  return out;
}

function mayRead(actor: Actor, full: boolean, type: string, id: string | null, info: AuditObjectInfo | undefined): boolean {
  if (full) return true;
  const kind = objectKind(type);
  if (!kind?.readAction || !isAction(kind.readAction)) return false;
  return can(actor, kind.readAction, { type, id, region: info?.region ?? null, departement: info?.departement ?? null, commune: info?.commune ?? null });
}

/** Paris midnight of a YYYY-MM-DD day, as an instant (ISO 8601); `plusDays` to move on. */
export function parisDayStart(day: string, plusDays = 0): string {
  const utc = new Date(`${day}T00:00:00Z`);
  utc.setUTCDate(utc.getUTCDate() + plusDays);
  const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', hourCycle: 'h23' }).format(utc));
  return new Date(utc.getTime() - hour * 3600_000).toISOString();
}

function day(value: string | undefined, field: string, label: string): string | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(`${value}T00:00:00Z`) : null;
  if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value || Number(m[1]) < 2000 || Number(m[1]) > 2100) {
    throw new UserError(`${label} : une date au format AAAA-MM-JJ, par exemple 2026-12-03.`, 400, field);
  }
  return value;
}

/** Ids of the people a filter names (at most 50), or null without a person filter. */
async function peopleIds(db: Queryable, actor: Actor, f: JournalFilters): Promise<string[] | null> {
  if (f.personId) {
    if (uuidsIn([f.personId]).length === 0) throw new UserError('Personne : identifiant inconnu.', 400, 'personne');
    return [f.personId];
  }
  const words = (f.person ?? '').trim();
  if (!words) return null;
  if (words.length > 120) throw new UserError('Personne : 120 caractères au plus.', 400, 'qui');
  const pattern = `%${words.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const withEmail = can(actor, 'accounts.manage');
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM accounts.users WHERE status <> 'deleted' AND (lower(display_name) LIKE $1 ESCAPE '\\' OR ($2 AND email_key LIKE $1 ESCAPE '\\')) ORDER BY id LIMIT 50`,
    [pattern, withEmail],
  );
  return rows.map((r) => r.id);
}

/** Validates the filters: a clear 400 naming the field for anything unknown or malformed. */
export function checkFilters(f: JournalFilters): void {
  if (f.module && !auditVocabularies().some((v) => v.module === f.module)) throw new UserError('Module : choisissez un module de la liste.', 400, 'module');
  if (f.objectType && !objectKind(f.objectType)) throw new UserError('Type d’objet : choisissez un type de la liste.', 400, 'type');
  if (f.objectId !== undefined && (f.objectId.length > 200 || /[\u0000-\u001f]/.test(f.objectId))) throw new UserError('Objet : identifiant invalide.', 400, 'objet');
  if (f.objectId && !f.objectType) throw new UserError('Objet : précisez aussi le type d’objet.', 400, 'type');
  day(f.from, 'du', 'Du');
  day(f.to, 'au', 'Au');
  if (f.from && f.to && f.from > f.to) throw new UserError('Au : la date de fin précède la date de début.', 400, 'au');
  if (f.before !== undefined && !(Number.isSafeInteger(f.before) && f.before > 0)) throw new UserError('Page : numéro d’entrée invalide.', 400, 'avant');
}

async function describeAll(db: Queryable, refs: AuditRef[]): Promise<Map<string, AuditObjectInfo>> {
  const byType = new Map<string, Set<string>>();
  for (const r of refs) {
    if (!r.id) continue;
    const set = byType.get(r.ref) ?? new Set<string>();
    set.add(r.id);
    byType.set(r.ref, set);
  }
  const out = new Map<string, AuditObjectInfo>();
  for (const [type, ids] of byType) {
    const kind = objectKind(type);
    if (!kind?.describe || kind.personal) continue;
    const found = await kind.describe(db, [...ids]);
    for (const [id, info] of found) out.set(`${type}\u0000${id}`, info);
  }
  return out;
}

/** Reads one page of the journal as the reader may see it. */
export async function readJournal(db: Queryable, actor: Actor, f: JournalFilters, pageSize = PAGE): Promise<JournalPage> {
  checkFilters(f);
  const kinds = readableKinds(actor);
  const full = kinds === null;
  if (kinds !== null && kinds.length === 0) throw new UserError('Votre rôle ne donne accès à aucune partie du journal.', 403);
  let objectTypes = kinds ?? undefined;
  if (f.objectType) objectTypes = objectTypes ? objectTypes.filter((t) => t === f.objectType) : [f.objectType];
  const actions = f.module ? actionsOf(f.module) : undefined;
  const actorIds = await peopleIds(db, actor, f);
  const lines: JournalLine[] = [];
  let cursor = f.before;
  let scanned = 0;
  let exhausted = Boolean((objectTypes && objectTypes.length === 0) || (actorIds && actorIds.length === 0) || (actions && actions.length === 0));
  while (!exhausted && lines.length < pageSize && (full || scanned < MAX_SCAN)) {
    const limit = full ? pageSize - lines.length : BATCH;
    const batch = await listAudit(db, {
      objectTypes,
      objectId: f.objectId || undefined,
      actorIds: actorIds ?? undefined,
      actions,
      since: f.from ? parisDayStart(f.from) : undefined,
      until: f.to ? parisDayStart(f.to, 1) : undefined,
      beforeSeq: cursor,
      limit,
    });
    const parsed = batch.map((e) => ({ e, parts: sentenceParts(e) }));
    const refs: AuditRef[] = parsed.flatMap(({ e, parts }) => [{ ref: e.objectType, id: e.objectId }, ...parts.filter((p): p is AuditRef => typeof p !== 'string')]);
    const infos = await describeAll(db, refs);
    const info = (type: string, id: string | null) => (id ? infos.get(`${type}\u0000${id}`) : undefined);
    const people = await userNames(db, batch.map((e) => e.actorId));
    let stoppedEarly = false;
    for (const { e, parts } of parsed) {
      scanned++;
      cursor = e.seq;
      if (!mayRead(actor, full, e.objectType, e.objectId, info(e.objectType, e.objectId))) continue;
      lines.push({
        entry: e,
        actor: e.actorId ? { id: e.actorId, label: people.get(e.actorId) ?? 'une personne inconnue' } : { id: null, label: 'Le système (tâche automatique ou ligne de commande)' },
        parts: contract(parts.map((p): SentencePart => (typeof p === 'string' ? p : named(actor, full, p, info(p.ref, p.id ?? null))))),
        module: moduleOf(e.action),
      });
      if (lines.length >= pageSize) {
        stoppedEarly = e !== parsed[parsed.length - 1]!.e;
        break;
      }
    }
    if (batch.length < limit && !stoppedEarly) exhausted = true;
  }
  const next = !exhausted && cursor !== undefined && cursor > 1 ? cursor : null;
  return { lines, next, full, scanned };
}

/** French contractions before a noun: « de le lieu » → « du lieu », « à le compte » → « au compte », « de les » → « des ». */
export function contract(parts: SentencePart[]): SentencePart[] {
  const out = parts.slice();
  for (let i = 0; i + 1 < out.length; i++) {
    const text = out[i];
    const next = out[i + 1];
    if (typeof text !== 'string' || typeof next === 'string' || !next) continue;
    const m = /(^|\s)(de|à) $/.exec(text);
    const n = /^(le|les) /.exec(next.noun);
    if (!m || !n) continue;
    const merged = m[2] === 'de' ? (n[1] === 'le' ? 'du' : 'des') : n[1] === 'le' ? 'au' : 'aux';
    out[i] = text.slice(0, text.length - m[2]!.length - 1);
    out[i + 1] = { ...next, noun: `${merged} ${next.noun.slice(n[0].length)}` };
  }
  return out;
}

function moduleOf(action: string): string | null {
  for (const v of auditVocabularies()) if (Object.hasOwn(v.actions, action)) return v.label;
  return null;
}

function named(actor: Actor, full: boolean, r: AuditRef, info: AuditObjectInfo | undefined): NamedObject {
  const kind = objectKind(r.ref);
  const noun = kind?.noun ?? 'l’objet';
  if (!kind || kind.personal) return { noun, label: null, quote: false, href: null };
  const quote = kind.quote !== false;
  if (info) return { noun, label: info.label, quote, href: info.href && mayRead(actor, full, r.ref, r.id ?? null, info) ? info.href : null };
  if (kind.showId && r.id) return { noun, label: r.id, quote: false, href: null };
  if (kind.describe && r.id) return { noun, label: 'supprimé', quote: false, href: null };
  return { noun, label: null, quote: false, href: null };
}

async function userNames(db: Queryable, ids: (string | null)[]): Promise<Map<string, string>> {
  const uuids = uuidsIn([...new Set(ids.filter((id): id is string => !!id))]);
  if (!uuids.length) return new Map();
  const { rows } = await db.query<{ id: string; display_name: string; status: string }>('SELECT id, display_name, status FROM accounts.users WHERE id = ANY($1::uuid[])', [uuids]);
  return new Map(rows.map((r) => [r.id, r.status === 'deleted' ? 'un compte supprimé' : r.display_name]));
}
