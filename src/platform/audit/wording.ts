/**
 * The audit trail in words. Each module gives, in its index.ts (`audit` in its manifest), a French
 * wording for every audit action it records and, for the kinds of object it owns, how to name and
 * link them (a batch look-up in its own schema) and which permission lets a person read entries
 * about them. The back-office journal (accounts) turns entries into sentences with these:
 * « Marie Dupont a fusionné le lieu « Médiathèque » avec le lieu « Espace Numérique » ».
 * `test/audit-wording.test.ts` fails when an action recorded anywhere in src/ has no wording.
 */
import type { Queryable } from '../db/index.ts';
import type { AuditEntry } from './index.ts';

/** Another object an entry names (beside its own object): resolved and linked like it. */
export interface AuditRef {
  ref: string;
  id: string | null | undefined;
}

/** A piece of a sentence: text, or an object to name (and link). */
export type AuditPart = string | AuditRef;

/**
 * What follows the actor's name, in French, past tense: a string where `{objet}` is the entry's
 * object (« a modifié {objet} »), or a function of the entry giving the parts (to name other objects
 * or a figure from the entry: `(e, ref) => ['a fusionné ', ref('place', e.objectId), ' avec ', ref('place', dropped)]`).
 */
export type AuditWording = string | ((e: AuditEntry, ref: (type: string, id: unknown) => AuditRef) => AuditPart[]);

/** Where an object is, for scoped reading (the accounts module's Resource). */
export interface AuditScope {
  region?: string | null;
  departement?: string | null;
  commune?: string | null;
}

export interface AuditObjectInfo extends AuditScope {
  /** Its name (« Médiathèque de Vernon », « l’appel « Inclusion 2027 » » without the noun). */
  label: string;
  /** Its back-office page, when it has one. */
  href?: string | null;
}

export interface AuditObjectKind {
  /** The noun with its article: « le lieu », « l’appel à projets », « la concertation ». */
  noun: string;
  /** Names, pages and territories of these objects, read in the module's own schema. Missing ids: gone. */
  describe?: (db: Queryable, ids: string[]) => Promise<Map<string, AuditObjectInfo>>;
  /**
   * The permission (an accounts action) that lets someone without `audit.read` read the entries about
   * this kind of object, checked on the object's territory (from describe). Without one, only
   * holders of `audit.read` see them.
   */
  readAction?: string;
  /** false: the name follows the noun as is (« le compte de Marie Dupont »); default: in « » quotes. */
  quote?: boolean;
  /** Without a name, show the object's identifier after the noun (« l’import n° 12 »). */
  showId?: boolean;
  /** Objects of this kind are personal data: never named, even to those who may read the entry. */
  personal?: boolean;
}

export interface AuditVocabulary {
  /** A French name for the module, for the journal's filter (« Lieux », « Appels à projets »). */
  label: string;
  actions: Record<string, AuditWording>;
  objects?: Record<string, AuditObjectKind>;
}

interface Registered extends AuditVocabulary {
  module: string;
}

const registry = new Map<string, Registered>();

/** Called by the composition root for each module's manifest (idempotent: a module replaces its own). */
export function registerAuditVocabulary(module: string, vocabulary: AuditVocabulary): void {
  registry.set(module, { module, ...vocabulary });
}

export function auditVocabularies(): readonly Registered[] {
  return [...registry.values()];
}

/** The wording of an action, and the module that gave it; null when none did. */
export function wordingOf(action: string): { module: string; wording: AuditWording } | null {
  for (const v of registry.values()) if (Object.hasOwn(v.actions, action)) return { module: v.module, wording: v.actions[action]! };
  return null;
}

export function objectKind(type: string): AuditObjectKind | null {
  for (const v of registry.values()) if (v.objects && Object.hasOwn(v.objects, type)) return v.objects[type]!;
  return null;
}

/** The actions of a module (for the journal's filter by module). */
export function actionsOf(module: string): string[] {
  return Object.keys(registry.get(module)?.actions ?? {});
}

const ref = (type: string, id: unknown): AuditRef => ({ ref: type, id: id === null || id === undefined ? null : String(id) });

/** The parts of an entry's sentence (after the actor), with a generic wording for unknown actions. */
export function sentenceParts(e: AuditEntry): AuditPart[] {
  const w = wordingOf(e.action)?.wording;
  const self = ref(e.objectType, e.objectId);
  if (!w) return ['a effectué l’action « ', e.action, ' » sur ', self];
  if (typeof w === 'function') return w(e, ref);
  const parts: AuditPart[] = [];
  const pieces = w.split('{objet}');
  pieces.forEach((p, i) => {
    if (p) parts.push(p);
    if (i < pieces.length - 1) parts.push(self);
  });
  return parts;
}

/** A value of an entry's before/after/meta, read safely (no prototype members). */
export function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

/** « 3 lieux », « 1 lieu »: a count with its noun. */
export function count(n: unknown, one: string, many: string): string {
  const v = typeof n === 'number' && Number.isFinite(n) ? n : Number(n);
  if (!Number.isFinite(v)) return many;
  return `${new Intl.NumberFormat('fr-FR').format(v)} ${Math.abs(v) < 2 ? one : many}`;
}

/** The ids that are UUIDs (for describers reading uuid columns: anything else cannot match). */
export function uuidsIn(ids: string[]): string[] {
  return ids.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id));
}
