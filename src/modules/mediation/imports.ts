/**
 * Imports of past activity records from CSV: the former Conseiller numérique report format
 * (counts per session) and La Coop's activity export. Each line becomes a record through the same
 * validation as the form; a line's idempotency key is derived from its content, so importing the
 * same file twice records nothing the second time. The report names every refused line and field.
 */
import crypto from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { delimiterOf } from './model.ts';
import { UserError } from '../../platform/http/errors.ts';
import { ADMIN_PROCEDURES, AUTONOMY, DIGITAL_THEMES, EQUIPMENT, ORIENTATION, ValidationFailed, WORKSHOP_LEVELS, parseActivity } from './model.ts';
import { profileOf, writeActivity, type Ctx } from './service.ts';

export type ImportFormat = 'cnfs' | 'coop';

export interface ImportReport {
  lines: number;
  recorded: number;
  /** Lines already imported (same content): nothing written again. */
  skipped: number;
  refused: { line: number; field: string; message: string }[];
}

/** Former Conseiller numérique themes → the Coop's digital themes. */
export const CNFS_THEMES: Record<string, string> = {
  'equipement informatique': 'prendre-en-main-du-materiel',
  smartphone: 'prendre-en-main-du-materiel',
  internet: 'navigation-internet',
  courriel: 'e-mail',
  'contenus numeriques': 'gerer-ses-documents',
  vocabulaire: 'culture-numerique',
  'traitement texte': 'bureautique',
  echanger: 'reseaux-sociaux',
  'trouver emploi': 'insertion-professionnelle',
  'accompagner enfant': 'parentalite',
  scolaire: 'scolarite-numerique',
  'tpe/pme': 'entrepreneuriat',
  'demarche en ligne': 'aide-aux-demarches-administratives',
  securite: 'securite-numerique',
  'fraude et harcelement': 'securite-numerique',
  sante: 'sante',
  'espace-sante': 'sante',
  budget: 'banque-achats-en-ligne',
  diagnostic: 'diagnostic-numerique',
  autre: 'culture-numerique',
};

/** Former age bands → Coop bands (approximations, documented in the README). */
const CNFS_AGES: Record<string, string> = { age_moins_12: 'under-12', age_12_18: '12-18', age_18_35: '25-40', age_35_60: '40-60', age_plus_60: '60-70' };
const CNFS_STATUSES: Record<string, string> = { statut_etudiant: 'student', statut_sans_emploi: 'job_seeker', statut_en_emploi: 'employed', statut_retraite: 'retired', statut_heterogene: 'nc' };

/** Lower case, no accents, punctuation to spaces (word order kept). */
const fold = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9/]+/g, ' ').trim();

function byLabel(dict: Record<string, string>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(dict)) {
    m.set(fold(k), k);
    m.set(fold(v), k);
  }
  return m;
}
const THEME_BY_LABEL = byLabel(DIGITAL_THEMES);
const ADMIN_BY_LABEL = byLabel(ADMIN_PROCEDURES);

function values(list: string, map: Map<string, string>): string[] {
  return list.split(/[,|]/).map((s) => s.trim()).filter(Boolean).map((s) => map.get(fold(s)) ?? s);
}

function lookup(dict: Record<string, string>, v: string): string {
  if (!v) return '';
  return byLabel(dict).get(fold(v)) ?? v;
}

/** "0-30" / "30-60" / "60-120" / "120+" or minutes → minutes. */
function cnfsDuration(v: string): string {
  const s = v.trim();
  const ranges: Record<string, string> = { '0-30': '30', '30-60': '60', '60-120': '120', '120+': '120', 'plus de 120': '120' };
  return ranges[s] ?? s;
}

function isoDate(v: string): string {
  const s = v.trim();
  const fr = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(s);
  return fr ? `${fr[3]}-${fr[2]}-${fr[1]}` : s.slice(0, 10);
}

/** One CSV line (by header) → the record's form fields. */
export function lineToRecord(format: ImportFormat, row: Record<string, string>): Record<string, unknown> {
  const g = (k: string) => (Object.prototype.hasOwnProperty.call(row, k) ? (row[k] ?? '').trim() : '');
  if (format === 'cnfs') {
    const kind = fold(g('activite')) === 'collectif' ? 'collective' : 'individual';
    const out: Record<string, unknown> = {
      kind,
      date: isoDate(g('date')),
      duration: cnfsDuration(g('duree')),
      placeKind: g('code_commune') ? 'other_commune' : 'remote',
      communeCode: g('code_commune'),
      themes: g('themes').split(/[,;|]/).map((s) => s.trim()).filter(Boolean).map((s) => CNFS_THEMES[fold(s)] ?? s),
      participants: g('nb_participants') || '1',
      workshopTitle: kind === 'collective' ? g('titre') || 'Atelier collectif' : '',
      orientation: /^(oui|1|true)$/i.test(g('accompagnement_redirection')) ? 'mediator' : '',
    };
    // Counts per session: the former format counts people, none followed.
    const ages: Record<string, number> = {};
    for (const [col, band] of Object.entries(CNFS_AGES)) if (g(col)) ages[band] = (ages[band] ?? 0) + Number(g(col));
    for (const [band, n] of Object.entries(ages)) out[`anon_age_${band}`] = String(n);
    for (const [col, st] of Object.entries(CNFS_STATUSES)) if (g(col)) out[`anon_status_${st}`] = String(Number(out[`anon_status_${st}`] ?? 0) + Number(g(col)));
    if (kind === 'individual') out.participants = '1';
    return out;
  }
  const type = fold(g('Type'));
  const kind = type.includes('collectif') ? 'collective' : 'individual';
  return {
    kind,
    date: isoDate(g('Date')),
    duration: g('Durée').replace(/\s*min.*$/i, ''),
    placeKind: g('Commune') ? 'other_commune' : 'remote',
    communeCode: g('Commune'),
    themes: values(g('Thématiques'), THEME_BY_LABEL).concat(type.includes('demarche') ? ['aide-aux-demarches-administratives'] : []),
    adminThemes: values(g('Thématiques démarches administratives'), ADMIN_BY_LABEL),
    participants: g('Nombre de participants') || '1',
    workshopTitle: kind === 'collective' ? g('Titre de l’atelier') || g("Titre de l'atelier") || 'Atelier collectif' : '',
    workshopLevel: lookup(WORKSHOP_LEVELS, g('Niveau')),
    equipment: lookup(EQUIPMENT, g('Matériel')),
    autonomy: lookup(AUTONOMY, g('Autonomie')),
    orientation: lookup(ORIENTATION, g('Orientation')),
    notes: g('Notes'),
  };
}

export const MAX_IMPORT_BYTES = 20_000_000;

export async function importActivities(ctx: Ctx, mediatorId: string, csv: string, format: ImportFormat): Promise<ImportReport> {
  if (format !== 'cnfs' && format !== 'coop') throw new UserError('Format inconnu : cnfs ou coop.', 400, 'format');
  if (csv.length > MAX_IMPORT_BYTES) throw new UserError('Fichier trop gros (20 Mo au plus).', 413, 'file');
  if (csv.includes('\u0000') || csv.includes('\ufffd')) throw new UserError('Le fichier contient des caractères invalides (il doit être en UTF-8).', 400, 'file');
  let records: string[][];
  try {
    records = parse(csv.replace(/^\ufeff/, ''), { delimiter: delimiterOf(csv), relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (e) {
    throw new UserError(`CSV illisible : ${(e as Error).message.slice(0, 200)}`, 400, 'file');
  }
  const head = (records[0] ?? []).map((h) => h.trim());
  const required = format === 'cnfs' ? ['date', 'duree', 'activite', 'themes'] : ['Date', 'Type', 'Durée', 'Thématiques'];
  const missing = required.filter((c) => !head.includes(c));
  if (missing.length) throw new UserError(`Colonne${missing.length > 1 ? 's' : ''} manquante${missing.length > 1 ? 's' : ''} : ${missing.join(', ')}.`, 400, 'file');
  const profile = await profileOf(ctx, mediatorId);
  const report: ImportReport = { lines: records.length - 1, recorded: 0, skipped: 0, refused: [] };
  for (let i = 1; i < records.length; i++) {
    const line = i + 1;
    const row: Record<string, string> = Object.create(null);
    head.forEach((h, j) => (row[h] = records[i]![j] ?? ''));
    const raw = lineToRecord(format, row);
    raw.idempotencyKey = `import-${format}-${crypto.createHash('sha256').update(records[i]!.join('\u001f')).update(String(line)).digest('hex').slice(0, 40)}`;
    try {
      const a = parseActivity(raw, { myPlaces: profile.placeUids });
      const r = await writeActivity(ctx, mediatorId, profile, a, `import:${format}`);
      if (r.created) report.recorded++;
      else report.skipped++;
    } catch (e) {
      if (!(e instanceof ValidationFailed)) throw e;
      for (const err of e.errors) report.refused.push({ line, field: err.field, message: err.message });
    }
  }
  return report;
}
