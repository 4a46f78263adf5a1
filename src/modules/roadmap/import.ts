/**
 * Spreadsheet (CSV) import of a plan's tree and of indicator values, with the column mapping chosen
 * in a form. All or nothing: the first bad line stops the import and its error names the line and
 * the field; nothing is written.
 */
import { parse } from 'csv-parse/sync';
import type { Db } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { slugify, type Plan } from './model.ts';
import { addNodeIn, lockPlan, recordValues, type Actor } from './service.ts';
import { writeTx } from './snapshot.ts';

export const IMPORT_KINDS = ['plan', 'values'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** Target fields of each import, with their French labels and whether they are required. */
export const IMPORT_FIELDS: Record<ImportKind, { key: string; label: string; required?: boolean; hints: string[] }[]> = {
  plan: [
    { key: 'number', label: 'Numéro (ex. « Action 14 »)', required: true, hints: ['numero', 'number', 'num', 'n'] },
    { key: 'title', label: 'Titre', required: true, hints: ['titre', 'title', 'intitule', 'libelle', 'action'] },
    { key: 'parent', label: 'Numéro du parent', hints: ['parent', 'parent_number', 'numero_parent', 'rattachement'] },
    { key: 'kind', label: 'Type (axe, objectif, action, sous_action)', hints: ['type', 'kind', 'niveau'] },
    { key: 'description', label: 'Description', hints: ['description', 'descriptif'] },
    { key: 'status', label: 'Statut', hints: ['statut', 'status', 'etat'] },
    { key: 'priority', label: 'Priorité', hints: ['priorite', 'priority'] },
    { key: 'startDate', label: 'Date de début', hints: ['debut', 'date_debut', 'start_date', 'start'] },
    { key: 'endDate', label: 'Date de fin', hints: ['fin', 'date_fin', 'end_date', 'end', 'echeance'] },
    { key: 'leads', label: 'Porteurs (séparés par |)', hints: ['porteurs', 'porteur', 'leads', 'pilote'] },
    { key: 'partners', label: 'Partenaires (séparés par |)', hints: ['partenaires', 'partners'] },
    { key: 'publics', label: 'Publics (séparés par |)', hints: ['publics', 'public', 'cibles'] },
    { key: 'tags', label: 'Mots-clés (séparés par |)', hints: ['tags', 'mots_cles', 'thematiques'] },
    { key: 'links', label: 'Objets liés (type:identifiant, séparés par |)', hints: ['links', 'liens'] },
  ],
  values: [
    { key: 'indicatorId', label: 'Identifiant de l’indicateur', required: true, hints: ['indicateur', 'indicator', 'indicator_id', 'id'] },
    { key: 'date', label: 'Date (AAAA-MM-JJ)', required: true, hints: ['date', 'on_date'] },
    { key: 'value', label: 'Valeur', required: true, hints: ['valeur', 'value'] },
    { key: 'kind', label: 'Type (result, target, estimate)', hints: ['type', 'kind'] },
    { key: 'note', label: 'Note', hints: ['note', 'commentaire', 'source'] },
  ],
};

const KIND_WORDS: Record<string, string> = { résultat: 'result', resultat: 'result', cible: 'target', objectif: 'target', estimation: 'estimate' };
const STATUS_WORDS: Record<string, string> = {
  'à venir': 'a_venir', 'a venir': 'a_venir', 'en cours': 'en_cours', réalisé: 'realise', realise: 'realise', 'en pause': 'en_pause',
  abandonné: 'abandonne', abandonne: 'abandonne', bloqué: 'bloque', bloque: 'bloque', 'en retard': 'en_retard',
};

export interface ParsedCsv {
  headers: string[];
  rows: string[][];
}

export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;
export const MAX_IMPORT_ROWS = 20_000;

/** The text of an uploaded CSV file: at most MAX_IMPORT_BYTES of UTF-8 (a BOM is allowed). */
export function decodeUpload(data: Buffer): string {
  if (data.length === 0) throw new UserError('Le fichier est vide.', 400, 'file');
  if (data.length > MAX_IMPORT_BYTES) throw new UserError(`Le fichier dépasse ${MAX_IMPORT_BYTES / 1024 / 1024} Mo.`, 413, 'file');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    // Name the line of the first invalid byte (decoded leniently, it is the first replacement character).
    const lenient = data.toString('utf8');
    const line = lenient.slice(0, Math.max(0, lenient.indexOf('\ufffd'))).split('\n').length;
    throw new UserError(`Le fichier n’est pas en UTF-8 valide (ligne ${line}) : enregistrez-le en « CSV UTF-8 » depuis votre tableur.`, 400, 'file');
  }
}

/** The spreadsheet name of a column: 0 → A, 26 → AA. */
export function columnLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

const CSV_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'un guillemet ouvert n’est jamais fermé',
  CSV_INVALID_CLOSING_QUOTE: 'un guillemet fermant est suivi d’autre chose qu’un séparateur',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'un guillemet fermant est suivi d’autre chose qu’un séparateur',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'le nombre de colonnes ne correspond pas à l’en-tête',
  CSV_MAX_RECORD_SIZE: 'une ligne dépasse 100 000 caractères',
};

/** Parses CSV text (comma or semicolon, detected on the header line). */
export function parseCsv(text: string): ParsedCsv {
  if (Buffer.byteLength(text, 'utf8') > MAX_IMPORT_BYTES) throw new UserError(`Le fichier dépasse ${MAX_IMPORT_BYTES / 1024 / 1024} Mo.`, 413, 'file');
  if (text.includes('\u0000')) throw new UserError(`Le fichier contient un octet nul (ligne ${text.slice(0, text.indexOf('\u0000')).split('\n').length}) : ce n’est pas un CSV texte.`, 400, 'file');
  if (text.includes('\ufffd')) throw new UserError('Le fichier n’est pas en UTF-8 valide (enregistrez-le en « CSV UTF-8 »).', 400, 'file');
  const body = text.replace(/^\ufeff/, '');
  const firstLine = body.slice(0, body.indexOf('\n') >= 0 ? body.indexOf('\n') : body.length);
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  let records: string[][];
  try {
    records = parse(body, { delimiter, relax_column_count: true, skip_empty_lines: true, bom: true, max_record_size: 100_000 }) as string[][];
  } catch (e) {
    const err = e as { lines?: number; code?: string; record?: unknown[]; column?: unknown };
    const col = typeof err.column === 'number' ? err.column : Array.isArray(err.record) ? err.record.length : null;
    const where = [err.lines ? `ligne ${err.lines}` : '', col !== null ? `colonne ${columnLetter(col)}` : ''].filter(Boolean).join(', ');
    const what = (err.code && CSV_ERRORS[err.code]) ?? 'format CSV invalide';
    throw new UserError(`Fichier CSV illisible${where ? ` (${where})` : ''} : ${what}.`, 400, 'file');
  }
  if (records.length < 2) throw new UserError('Le fichier doit contenir une ligne d’en-têtes et au moins une ligne de données.', 400, 'file');
  if (records.length - 1 > MAX_IMPORT_ROWS) throw new UserError(`${MAX_IMPORT_ROWS} lignes au plus par import.`, 400, 'file');
  const headers = records[0]!.map((h) => h.trim().slice(0, 100));
  if (headers.length > 100) throw new UserError('100 colonnes au plus.', 400, 'file');
  return { headers, rows: records.slice(1) };
}

/**
 * « Ligne 4, colonne E « Fin » » for an error on a field of an imported line: the column the
 * mapping took it from (a service error names the field, e.g. `endDate`, `values[0].value`).
 */
export function lineAndColumn(kind: ImportKind, line: number, field: string | null | undefined, csv: ParsedCsv, mapping: Record<string, number | null>): string {
  const key = (field ?? '').replace(/^.*?:\s*/, '').replace(/^values\[\d+\]\./, '').replace(/\[.*$/, '').replace(/\..*$/, '');
  const target = key === 'parentId' ? 'parent' : key;
  const known = IMPORT_FIELDS[kind].some((f) => f.key === target);
  const col = known ? mapping[target] : null;
  if (col === null || col === undefined) return `Ligne ${line}`;
  return `Ligne ${line}, colonne ${columnLetter(col)} « ${csv.headers[col] || `colonne ${col + 1}`} »`;
}

const fold = (s: string) => slugify(s).replace(/-/g, '_');

/** The column proposed for each field: the header whose folded name matches a hint. */
export function guessMapping(kind: ImportKind, headers: string[]): Record<string, number | null> {
  const folded = headers.map(fold);
  const out: Record<string, number | null> = {};
  for (const f of IMPORT_FIELDS[kind]) {
    const i = folded.findIndex((h) => f.hints.includes(h) || h === fold(f.key));
    out[f.key] = i >= 0 ? i : null;
  }
  return out;
}

/** Reads a mapping posted by the form (field → column index) and checks it. */
export function readMapping(kind: ImportKind, headers: string[], posted: Record<string, unknown>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const f of IMPORT_FIELDS[kind]) {
    const v = posted[`map_${f.key}`];
    const idx = v === undefined || v === '' ? null : Number(v);
    if (idx !== null && (!Number.isInteger(idx) || idx < 0 || idx >= headers.length)) throw new UserError(`Colonne invalide pour « ${f.label} ».`, 400, `map_${f.key}`);
    if (f.required && idx === null) throw new UserError(`Choisissez la colonne de « ${f.label} ».`, 400, `map_${f.key}`);
    out[f.key] = idx;
  }
  return out;
}

function rowObject(kind: ImportKind, row: string[], mapping: Record<string, number | null>): Record<string, string> {
  const o: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const f of IMPORT_FIELDS[kind]) {
    const i = mapping[f.key];
    if (i !== null && i !== undefined) o[f.key] = (row[i] ?? '').trim();
  }
  return o;
}

function frenchDate(v: string | undefined): string | undefined {
  const m = v ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v) : null;
  return m ? `${m[3]}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}` : v;
}

/** Imports the tree: each line a node; its parent by number (earlier in the file or already in the plan). */
export async function importPlanRows(db: Db, actor: Actor, plan: Plan, csv: ParsedCsv, mapping: Record<string, number | null>): Promise<number> {
  return writeTx(db, async (tx) => {
    const locked = await lockPlan(tx, plan.id);
    const existing = await tx.query<{ id: string; number: string }>(`SELECT id, number FROM roadmap.node WHERE plan_id = $1 AND number <> ''`, [plan.id]);
    const byNumber = new Map(existing.rows.map((r) => [r.number, r.id]));
    let count = 0;
    for (const [i, row] of csv.rows.entries()) {
      const line = i + 2;
      const o = rowObject('plan', row, mapping);
      if (Object.values(o).every((v) => v === '')) continue;
      let parentId: string | null = null;
      if (o.parent) {
        parentId = byNumber.get(o.parent) ?? null;
        if (!parentId) throw new UserError(`${lineAndColumn('plan', line, 'parent', csv, mapping)} : le parent « ${o.parent.slice(0, 40)} » n’est ni dans le plan ni plus haut dans le fichier.`, 400, `ligne ${line} : parent`);
      }
      if (o.number && byNumber.has(o.number)) throw new UserError(`${lineAndColumn('plan', line, 'number', csv, mapping)} : le numéro « ${o.number.slice(0, 40)} » existe déjà dans le plan.`, 409, `ligne ${line} : number`);
      const raw: Record<string, unknown> = { ...o, parentId, startDate: frenchDate(o.startDate), endDate: frenchDate(o.endDate) };
      if (o.status) raw.status = STATUS_WORDS[o.status.toLowerCase()] ?? o.status;
      if (o.kind) raw.kind = fold(o.kind).replace(/^sous_?action$/, 'sous_action');
      if (o.priority) raw.priority = fold(o.priority);
      delete raw.parent;
      try {
        const node = await addNodeIn(tx, actor, locked, raw);
        if (node.number) byNumber.set(node.number, node.id);
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${lineAndColumn('plan', line, e.field, csv, mapping)} : ${e.message}`, e.statusCode, `ligne ${line} : ${e.field ?? ''}`);
        throw e;
      }
      count++;
    }
    await recordAudit(tx, { actorId: actor, action: 'roadmap.plan.import', objectType: 'roadmap.plan', objectId: plan.id, after: { nodes: count } });
    return count;
  });
}

/** Imports values for the plan's territory; all or none (bounds and dates checked line by line). */
export async function importValueRows(db: Db, actor: Actor, plan: Plan, csv: ParsedCsv, mapping: Record<string, number | null>): Promise<number> {
  const values: Record<string, unknown>[] = [];
  const lines: number[] = [];
  for (const [i, row] of csv.rows.entries()) {
    const o = rowObject('values', row, mapping);
    if (Object.values(o).every((v) => v === '')) continue;
    values.push({ indicatorId: o.indicatorId, date: frenchDate(o.date), value: o.value, kind: o.kind ? (KIND_WORDS[o.kind.toLowerCase()] ?? o.kind) : 'result', note: o.note ?? '', territory: plan.territory });
    lines.push(i + 2);
  }
  if (!values.length) throw new UserError('Aucune ligne de valeurs dans le fichier.', 400, 'file');
  try {
    return await recordValues(db, actor, values, { source: 'import', fieldPrefix: (i) => `ligne ${lines[i]} : ` });
  } catch (e) {
    const m = e instanceof UserError ? /^ligne (\d+) : (.*)$/.exec(e.field ?? '') : null;
    if (e instanceof UserError && m) throw new UserError(`${lineAndColumn('values', Number(m[1]), m[2], csv, mapping)} : ${e.message}`, e.statusCode, e.field);
    throw e;
  }
}
