/**
 * Column plans: how the cells of one input row (CSV columns, or JSON/GeoJSON keys) become the
 * v1.0.2 field values of a RawRow. One plan per header, built once, applied to every row.
 * - v1.0.2 headers: `standardPlan` (here);
 * - v0.1.0 headers: `legacyPlan` (legacy.ts);
 * - producers' own formats: `mappingPlan` (mapping.ts).
 */
import { FIELDS, REQUIRED, isMultiValued } from './standard.ts';
import { fold } from './text.ts';
import type { FieldName, ValidationIssue } from './types.ts';

export type Cells = readonly (string | undefined)[];
export type Values = Partial<Record<FieldName, string>>;

export interface ColumnPlan {
  version: string;
  /** Issues about the header itself (unknown columns, renamed columns…), line 1 for CSV. */
  headerIssues: ValidationIssue[];
  /** True when no row can be read at all (header not recognised). */
  fatal: boolean;
  /** Converts one row; row-level conversion issues (with the row's line) go to `issues`. */
  convert(cells: Cells, line: number, issues: ValidationIssue[]): Values;
}

/** Header names folded for tolerant matching ("Code Postal", "code-postal", "CODE_POSTAL"). */
export function foldHeader(name: string): string {
  return fold(name.replace(/^\uFEFF/, '')).replace(/[_\-.'"]/g, '');
}

const V1_BY_FOLD = new Map<string, FieldName>(FIELDS.map((f) => [foldHeader(f), f]));

export function fileIssue(line: number | null, field: string | null, value: string | null, severity: 'error' | 'warning', code: string, message: string): ValidationIssue {
  return { line, field, value, severity, code, message };
}

/** Matches header names to v1 fields: exact, then tolerant (reported). */
export function matchV1Columns(columns: readonly string[], headerLine: number | null): {
  index: Map<FieldName, number>;
  unknown: string[];
  issues: ValidationIssue[];
} {
  const index = new Map<FieldName, number>();
  const unknown: string[] = [];
  const issues: ValidationIssue[] = [];
  const at = headerLine === null ? '' : `Ligne ${headerLine} (en-tête) : `;
  columns.forEach((raw, i) => {
    const name = raw.replace(/^\uFEFF/, '').trim();
    const exact = (FIELDS as readonly string[]).includes(name) ? (name as FieldName) : undefined;
    const field = exact ?? V1_BY_FOLD.get(foldHeader(name));
    if (field === undefined) {
      if (name !== '') unknown.push(name);
      return;
    }
    if (index.has(field)) {
      issues.push(fileIssue(headerLine, field, name, 'warning', 'duplicate_column', `${at}la colonne « ${name} » apparaît deux fois ; seule la première est lue.`));
      return;
    }
    if (!exact) issues.push(fileIssue(headerLine, field, name, 'warning', 'column_renamed', `${at}colonne « ${name} » lue comme le champ « ${field} » (nom exact attendu : ${field}).`));
    index.set(field, i);
  });
  return { index, unknown, issues };
}

/** Plan for v1.0.2 files: columns in any order, matched by name. */
export function standardPlan(columns: readonly string[], headerLine: number | null): ColumnPlan {
  const { index, unknown, issues } = matchV1Columns(columns, headerLine);
  const at = headerLine === null ? '' : `Ligne ${headerLine} (en-tête) : `;
  if (unknown.length > 0) {
    issues.push(
      fileIssue(headerLine, null, unknown.join(', '), 'warning', 'unknown_columns', `${at}colonnes inconnues du standard v1.0.2, ignorées : ${unknown.map((u) => `« ${u} »`).join(', ')}.`),
    );
  }
  const missing = REQUIRED.filter((f) => !index.has(f));
  const fatal = REQUIRED.every((f) => !index.has(f));
  if (fatal) {
    issues.push(
      fileIssue(
        headerLine,
        null,
        columns.join(', ').slice(0, 500),
        'error',
        'header_unrecognised',
        `${at}en-tête non reconnu : aucune colonne obligatoire du standard (${REQUIRED.join(', ')}). Pour un fichier dans un autre format, fournissez un fichier de correspondance (mapping).`,
      ),
    );
  } else if (missing.length > 0) {
    issues.push(fileIssue(headerLine, null, missing.join(', '), 'error', 'missing_columns', `${at}colonnes obligatoires absentes : ${missing.join(', ')} ; chaque ligne sera refusée.`));
  }
  const pairs = [...index.entries()];
  return {
    version: '1.0.2',
    headerIssues: issues,
    fatal,
    convert(cells) {
      const values: Values = {};
      for (let k = 0; k < pairs.length; k++) {
        const [field, i] = pairs[k];
        const v = cells[i];
        if (v !== undefined) values[field] = v;
      }
      return values;
    },
  };
}

export { isMultiValued };
