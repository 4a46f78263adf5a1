import type { ValidationIssue } from './types.ts';
/** Small text helpers shared by the readers and the validator. */

const MARKS = /[\u0300-\u036f]/g;
const APOSTROPHES = /[’‘`´ʼ]/g;
const QUOTES = /[«»“”„‟]/g;
const SPACES = /\s+/g;

/** Folds a label for tolerant comparison: no accents, lower case, one kind of apostrophe and quote,
 *  no white space at all (so "Étapes numériques(La Poste)" and "etapes numeriques (la poste)" meet). */
export function fold(value: string): string {
  return value.normalize('NFD').replace(MARKS, '').toLowerCase().replace(APOSTROPHES, "'").replace(QUOTES, '"').replace(SPACES, '');
}

/** Length in Unicode code points, as JSON Schema / TableSchema `maxLength` counts. */
export function codePointLength(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Cuts a value for display in a message (long values would drown the report). */
export function shorten(value: string, max = 120): string {
  if (value.length <= max) return value;
  return value.slice(0, max - 1) + '…';
}

/** The value kept in a ValidationIssue: whole unless huge. */
export function reportValue(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.length > 500 ? value.slice(0, 499) + '…' : value;
}

/** « Ligne 12, champ « telephone » » — the prefix of every row-level message. */
export function where(line: number | null, field: string | null, item?: number): string {
  if (line === null) return field ? `Champ « ${field} »` : 'Fichier';
  const at = item === undefined ? `Ligne ${line}` : `Élément n° ${item} (ligne ${line})`;
  return field ? `${at}, champ « ${field} »` : at;
}

/** Rewrites a row-level message's « Ligne N » prefix for a JSON element (« Élément n° K (ligne N) »). */
export function atItem(issue: ValidationIssue, item: number): ValidationIssue {
  if (issue.line === null) return issue;
  const prefix = `Ligne ${issue.line}`;
  const message = issue.message.startsWith(prefix) ? `${where(issue.line, null, item)}${issue.message.slice(prefix.length)}` : issue.message;
  return { ...issue, item, message };
}

/**
 * A copy of a string that does not share the memory of the one it was cut from. The CSV reader's
 * values are slices of the 64 KB chunk they were read in, and a slice keeps its whole chunk alive:
 * what is kept until the end of a file (ids, cache keys, reported values) would otherwise keep the
 * whole file in memory.
 */
export function detach(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
