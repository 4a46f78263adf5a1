/**
 * validateRow: one raw row (already mapped to v1.0.2 field names, values as strings) → a valid
 * PlaceRecord or a refusal, with every problem reported (line, field, value, French message).
 *
 * Principles (see README.md):
 * - ERROR (row refused) only when the value cannot be made valid without guessing: missing required
 *   field, invalid pivot / postal code / INSEE code, unparseable date, unparseable or out-of-range
 *   coordinates, unknown enum value, over-long presentation_resume that cannot be moved.
 * - WARNING (row kept) for every normalisation, saying what changed, and for optional values we
 *   drop because they are unusable (invalid phone, e-mail, URL, opening hours): the value stays in
 *   the report, the record gets null / loses that item.
 * - Pure and synchronous; no I/O.
 */
import { checkHours } from './hours.ts';
import {
  ENUMS,
  ENUM_FIELDS,
  ETAPES_NUMERIQUES,
  ETAPES_NUMERIQUES_SCHEMA_SPELLING,
  FIELDS,
  MAX_LENGTH,
  PATTERNS,
  PHONE_PREFIXES,
  REQUIRED,
  type EnumField,
} from './standard.ts';
import { codePointLength, fold, reportValue, shorten, where } from './text.ts';
import { TYPOLOGIES } from './typologies.ts';
import type { FieldName, PlaceRecord, RawRow, RowResult, Severity, ValidationIssue } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Look-up tables built once.

/** Extra spellings met in the wild (schema descriptions, older wording) → exact value. */
const ENUM_ALIASES: Partial<Record<EnumField, Record<string, string>>> = {
  services: {
    'Comprehension du monde numérique': 'Compréhension du monde numérique',
  },
  dispositif_programmes_nationaux: {
    'Bibliothèque numérique de référence': 'Bibliothèques numérique de référence',
    'Bibliothèques numériques de référence': 'Bibliothèques numérique de référence',
    'Conseiller numérique': 'Conseillers numériques',
    'Conseiller numérique France Services': 'Conseillers numériques',
    'Grandes écoles du numérique': 'Grande école du numérique',
    'Croix Rouge': 'La Croix Rouge',
    'Croix-Rouge': 'La Croix Rouge',
    'La Croix-Rouge': 'La Croix Rouge',
  },
  modalites_accompagnement: {
    "Dans un atelier collectif : j'apprends collectivement à utiliser le numérique": 'Dans un atelier collectif',
    'À distance (par téléphone ou en visioconférence)': 'À distance',
  },
  itinerance: { Itinerante: 'Itinérant', Itinérante: 'Itinérant' },
};

const ENUM_LOOKUP = new Map<EnumField, { exact: Set<string>; folded: Map<string, string> }>();
for (const field of ENUM_FIELDS) {
  const values = ENUMS[field] as readonly string[];
  const folded = new Map<string, string>();
  for (const v of values) {
    const f = fold(v);
    if (folded.has(f)) throw new Error(`enum values collide once folded: ${field} ${v}`);
    folded.set(f, v);
  }
  for (const [alias, v] of Object.entries(ENUM_ALIASES[field] ?? {})) folded.set(fold(alias), v);
  ENUM_LOOKUP.set(field, { exact: new Set(values), folded });
}

const TYPOLOGY_CODES = new Set(Object.keys(TYPOLOGIES));
const TYPOLOGY_FOLDED = new Map<string, string>();
for (const [code, label] of Object.entries(TYPOLOGIES)) {
  TYPOLOGY_FOLDED.set(fold(code), code);
  TYPOLOGY_FOLDED.set(fold(label), code);
}

// Bounding boxes (lat min, lat max, lon min, lon max) of mainland France + Corsica and of the
// overseas territories, with a margin, to recognise swapped coordinates.
const FRANCE_BOXES: readonly [number, number, number, number][] = [
  [41.2, 51.3, -5.6, 9.8], // mainland + Corsica
  [15.8, 18.2, -63.2, -60.9], // Guadeloupe, Saint-Martin, Saint-Barthélemy
  [14.3, 14.95, -61.3, -60.75], // Martinique
  [2.0, 5.9, -54.7, -51.5], // Guyane
  [-21.5, -20.8, 55.1, 55.9], // La Réunion
  [-13.1, -12.5, 44.9, 45.4], // Mayotte
  [46.7, 47.2, -56.5, -56.0], // Saint-Pierre-et-Miquelon
  [-22.9, -19.5, 163.5, 168.2], // Nouvelle-Calédonie
  [-28.0, -7.8, -154.8, -134.4], // Polynésie française
  [-14.4, -13.2, -178.3, -176.0], // Wallis-et-Futuna
];
export function inFrance(lat: number, lon: number): boolean {
  for (const [a, b, c, d] of FRANCE_BOXES) if (lat >= a && lat <= b && lon >= c && lon <= d) return true;
  return false;
}

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const CONTROL_G = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;
const EMAIL = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\].]{2,}$/;
const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const HTTP = /^https?:\/\/[^\s/?#]+\.[^\s/?#]+|^https?:\/\/localhost/i;
const BARE_HOST = /^(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(?::\d+)?(?:[/?#]\S*)?$/;

// ---------------------------------------------------------------------------------------------

class RowContext {
  issues: ValidationIssue[] = [];
  refused = false;
  constructor(readonly line: number, readonly item?: number) {}
  add(severity: Severity, field: FieldName | null, value: string | null, code: string, message: string): void {
    if (severity === 'error') this.refused = true;
    const issue: ValidationIssue = { line: this.line, field, value: reportValue(value), message: `${where(this.line, field, this.item)} : ${message}`, severity, code };
    if (this.item !== undefined) issue.item = this.item;
    this.issues.push(issue);
  }
  error(field: FieldName, value: string | null, code: string, message: string): void {
    this.add('error', field, value, code, message);
  }
  warn(field: FieldName, value: string | null, code: string, message: string): void {
    this.add('warning', field, value, code, message);
  }
}

const q = (v: string) => `« ${shorten(v)} »`;

type Cleaned = Record<FieldName, string>;

/** A fresh object of fixed shape (all 32 fields, '' = absent): keeps property access fast. */
function blank(): Cleaned {
  return { id: '', pivot: '', nom: '', commune: '', code_postal: '', code_insee: '', adresse: '', complement_adresse: '', latitude: '', longitude: '', typologie: '', telephone: '', courriels: '', site_web: '', horaires: '', presentation_resume: '', presentation_detail: '', source: '', itinerance: '', structure_parente: '', date_maj: '', services: '', publics_specifiquement_adresses: '', prise_en_charge_specifique: '', frais_a_charge: '', dispositif_programmes_nationaux: '', formations_labels: '', autres_formations_labels: '', modalites_acces: '', modalites_accompagnement: '', fiche_acces_libre: '', prise_rdv: '' };
}

/** The row's values trimmed, control characters removed (PostgreSQL refuses NUL), '' when absent.
 *  No closures or dynamic shapes here: this runs for every row. */
function cleanValues(ctx: RowContext, v: Partial<Record<FieldName, string>>): Cleaned {
  const c = blank();
  for (let i = 0; i < FIELDS.length; i++) {
    const key = FIELDS[i];
    const raw = v[key];
    if (raw === undefined || raw === null || raw === '') continue;
    let s = typeof raw === 'string' ? raw : String(raw);
    if (CONTROL.test(s)) {
      ctx.warn(key, s, 'control_characters', `caractères de contrôle invisibles supprimés de la valeur ${q(s)}.`);
      s = s.replace(CONTROL_G, '');
    }
    c[key] = s.trim();
  }
  return c;
}

function splitMulti(ctx: RowContext, field: FieldName, value: string): string[] {
  if (value === '') return [];
  if (value.indexOf('|') === -1) return [value];
  const parts = value.split('|');
  const out: string[] = [];
  let empty = false;
  for (const p of parts) {
    const t = p.trim();
    if (t === '') {
      empty = true;
      continue;
    }
    if (out.includes(t)) {
      ctx.warn(field, value, 'duplicate_value', `la valeur ${q(t)} apparaît deux fois ; gardée une seule fois.`);
      continue;
    }
    out.push(t);
  }
  if (empty) ctx.warn(field, value, 'empty_value', `valeur vide entre deux « | » ignorée dans ${q(value)}.`);
  return out;
}

function dedupe(ctx: RowContext, field: FieldName, values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (out.includes(v)) {
      ctx.warn(field, v, 'duplicate_value', `la valeur ${q(v)} apparaît deux fois ; gardée une seule fois.`);
      continue;
    }
    out.push(v);
  }
  return out;
}

function enumValues(ctx: RowContext, field: EnumField, raw: string): string[] {
  const items = splitMulti(ctx, field, raw);
  if (items.length === 0) return items;
  const { exact, folded } = ENUM_LOOKUP.get(field)!;
  const out: string[] = [];
  for (const item of items) {
    if (exact.has(item)) {
      out.push(item);
      continue;
    }
    const match = folded.get(fold(item));
    if (match === undefined) {
      const allowed = (ENUMS[field] as readonly string[]).join(' ; ');
      ctx.error(field, item, 'enum', `valeur ${q(item)} inconnue du standard. Valeurs possibles : ${allowed}.`);
      continue;
    }
    if (match === ETAPES_NUMERIQUES && item === ETAPES_NUMERIQUES_SCHEMA_SPELLING) {
      ctx.warn(
        field,
        item,
        'label_spelling',
        `valeur ${q(item)} écrite ${q(match)} (l'expression régulière du schéma v1.0.2 omet l'espace avant la parenthèse ; nous acceptons les deux et écrivons la forme correcte).`,
      );
    } else {
      ctx.warn(field, item, 'enum_normalised', `valeur ${q(item)} écrite avec l'orthographe exacte du standard : ${q(match)}.`);
    }
    out.push(match);
  }
  return dedupe(ctx, field, out);
}

function typologies(ctx: RowContext, raw: string): string[] {
  const items = splitMulti(ctx, 'typologie', raw);
  const out: string[] = [];
  for (const item of items) {
    if (TYPOLOGY_CODES.has(item)) {
      out.push(item);
      continue;
    }
    const code = TYPOLOGY_FOLDED.get(fold(item));
    if (code !== undefined) {
      ctx.warn('typologie', item, 'enum_normalised', `valeur ${q(item)} remplacée par le code du référentiel des typologies ${q(code)}.`);
      out.push(code);
    } else {
      ctx.warn(
        'typologie',
        item,
        'typologie_unknown',
        `code ${q(item)} absent du référentiel des typologies de structures (data·inclusion) ; conservé tel quel.`,
      );
      out.push(item);
    }
  }
  return dedupe(ctx, 'typologie', out);
}

/** French numbers → international form required by the schema. The postal code tells which
 *  territory a short local number (Nouvelle-Calédonie, Polynésie, Wallis, Saint-Pierre) belongs to. */
export function normalisePhone(raw: string, codePostal: string): string | null {
  let s = raw.replace(/[\s.\-/()\u00a0\u202f]/g, '');
  if (s.startsWith('00')) s = '+' + s.slice(2);
  if (s.startsWith('+')) {
    if (!/^\+\d+$/.test(s)) return null;
    for (const prefix of PHONE_PREFIXES) {
      if (s.startsWith(prefix)) {
        let rest = s.slice(prefix.length);
        if (rest.startsWith('0') && rest.length >= 7) rest = rest.slice(1); // "+33 (0)1 …"
        s = prefix + rest;
        break;
      }
    }
  } else if (/^0\d{9}$/.test(s)) {
    const four = s.slice(0, 4);
    let prefix = '+33';
    if (four === '0590' || four === '0690' || four === '0691') prefix = '+590';
    else if (four === '0594' || four === '0694') prefix = '+594';
    else if (four === '0262' || four === '0263' || four === '0692' || four === '0693' || four === '0269' || four === '0639') prefix = '+262';
    else if (four === '0596' || four === '0696' || four === '0697') prefix = '+596';
    if (four === '0508') s = '+508' + s.slice(4);
    else s = prefix + s.slice(1);
  } else if (/^\d{6}$|^\d{8}$/.test(s)) {
    const cp = codePostal.slice(0, 3);
    if (cp === '988' && s.length === 6) s = '+687' + s;
    else if (cp === '987' && s.length === 8) s = '+689' + s;
    else if (cp === '986' && s.length === 6) s = '+681' + s;
    else if (cp === '975' && s.length === 6) s = '+508' + s;
    else return null;
  } else if (/^[1-9]\d{8}$/.test(s) && /^(?:[0-8]\d|9[0-5]|2[AB])/.test(codePostal)) {
    s = '+33' + s; // leading zero eaten by a spreadsheet
  }
  return PATTERNS.telephone.test(s) ? s : null;
}

function isValidDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || y < 1000) return false;
  const dim = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  return d <= dim;
}
const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** ISO date from the forms producers use; null when not a date. `changed` tells if rewritten. */
export function parseDate(raw: string): { iso: string; changed: boolean } | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (m) return isValidDate(+m[1], +m[2], +m[3]) ? { iso: raw, changed: false } : null;
  let y: number, mo: number, d: number;
  if ((m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(raw))) [d, mo, y] = [+m[1], +m[2], +m[3]];
  else if ((m = /^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$/.exec(raw))) [y, mo, d] = [+m[1], +m[2], +m[3]];
  else if ((m = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/.exec(raw))) [y, mo, d] = [+m[1], +m[2], +m[3]];
  else if (/^\d{5}$/.test(raw) && +raw >= 20000 && +raw <= 80000) {
    // Spreadsheet serial day number (1900 date system).
    const dt = new Date(Date.UTC(1899, 11, 30) + +raw * 86400000);
    return { iso: dt.toISOString().slice(0, 10), changed: true };
  } else return null;
  if (!isValidDate(y, mo, d)) return null;
  return { iso: `${y}-${pad2(mo)}-${pad2(d)}`, changed: true };
}

function parseNumber(ctx: RowContext, field: 'latitude' | 'longitude', raw: string): number | null | 'bad' {
  if (raw === '') return null;
  let s = raw;
  if (DECIMAL_COMMA.test(s)) {
    s = s.replace(',', '.');
    ctx.warn(field, raw, 'decimal_comma', `virgule décimale remplacée par un point : ${q(raw)} devient ${q(s)}.`);
  }
  if (!NUMBER.test(s)) {
    ctx.error(field, raw, 'number', `${q(raw)} n'est pas un nombre (degrés décimaux WGS84 attendus, par exemple 48.8566).`);
    return 'bad';
  }
  const n = Number(s);
  return n === 0 ? 0 : n; // no -0
}

function url(ctx: RowContext, field: FieldName, raw: string): string | null {
  let v = raw;
  if (!HAS_SCHEME.test(v)) {
    if (BARE_HOST.test(v)) {
      v = 'https://' + v;
      ctx.warn(field, raw, 'url_scheme_added', `adresse web sans protocole : ${q(raw)} devient ${q(v)}.`);
    }
  }
  if (!HTTP.test(v) || /\s/.test(v) || !URL.canParse(v)) {
    ctx.warn(field, raw, 'url_invalid', `${q(raw)} n'est pas une adresse web valide (http:// ou https://) ; valeur ignorée.`);
    return null;
  }
  return v;
}

function emails(ctx: RowContext, raw: string): string[] {
  const items = splitMulti(ctx, 'courriels', raw);
  const out: string[] = [];
  for (const item of items) {
    let parts = [item];
    if (/[;,\s]/.test(item)) {
      parts = item.split(/[;,\s]+/).filter((p) => p !== '');
      ctx.warn('courriels', item, 'email_split', `plusieurs adresses séparées autrement que par « | » : ${q(item)} ; séparées.`);
    }
    for (let p of parts) {
      if (/^mailto:/i.test(p)) {
        const np = p.replace(/^mailto:/i, '');
        ctx.warn('courriels', p, 'email_normalised', `préfixe « mailto: » retiré de ${q(p)}.`);
        p = np;
      }
      if (EMAIL.test(p)) out.push(p);
      else ctx.warn('courriels', p, 'email_invalid', `${q(p)} n'est pas une adresse électronique valide ; valeur ignorée.`);
    }
  }
  return dedupe(ctx, 'courriels', out);
}

// ---------------------------------------------------------------------------------------------

/** Validates and normalises one row. Synchronous, pure, never throws. */
export function validateRow(row: RawRow): RowResult {
  const ctx = new RowContext(row.line, row.item);
  for (const e of row.errors ?? []) {
    ctx.issues.push(e);
    ctx.refused = true;
  }
  const c = cleanValues(ctx, row.values ?? {});

  // Required text fields.
  const req: Record<string, string> = {};
  for (const f of REQUIRED) {
    const s = c[f];
    if (s === '') ctx.error(f, row.values?.[f] ?? null, 'required', `champ obligatoire vide ou absent.`);
    req[f] = s;
  }

  // pivot: SIRET (14 digits), SIREN, RNA (W + 9), RIDET — 9 to 14 letters or digits.
  let pivot = req.pivot;
  if (pivot !== '' && !PATTERNS.pivot.test(pivot)) {
    const compact = pivot.replace(/[\s.\-\u00a0]/g, '');
    if (/^(?:\d{9}|\d{14}|W\d{9})$/i.test(compact)) {
      ctx.warn('pivot', pivot, 'pivot_normalised', `espaces et séparateurs retirés : ${q(pivot)} devient ${q(compact)}.`);
      pivot = compact;
    } else {
      ctx.error('pivot', pivot, 'pattern', `${q(pivot)} n'est ni un SIRET (14 chiffres) ni un numéro RNA ou RIDET (9 à 14 lettres ou chiffres).`);
    }
  }

  // code_postal: 5 digits; 4 digits are a lost leading zero.
  let codePostal = req.code_postal;
  if (codePostal !== '' && !PATTERNS.code_postal.test(codePostal)) {
    const compact = codePostal.replace(/[\s\u00a0]/g, '');
    if (/^\d{4}$/.test(compact)) {
      ctx.warn('code_postal', codePostal, 'postal_code_padded', `code postal à 4 chiffres complété par un zéro : ${q(codePostal)} devient ${q('0' + compact)}.`);
      codePostal = '0' + compact;
    } else if (PATTERNS.code_postal.test(compact)) {
      ctx.warn('code_postal', codePostal, 'postal_code_normalised', `espaces retirés : ${q(codePostal)} devient ${q(compact)}.`);
      codePostal = compact;
    } else {
      ctx.error('code_postal', codePostal, 'pattern', `${q(codePostal)} n'est pas un code postal (5 chiffres attendus).`);
    }
  }

  // code_insee: optional; absent → the service derives it.
  let codeInsee = (c.code_insee || null);
  if (codeInsee !== null && !PATTERNS.code_insee.test(codeInsee)) {
    const up = codeInsee.replace(/[\s\u00a0]/g, '').toUpperCase();
    const fixed = /^\d{4}$/.test(up) ? '0' + up : up;
    if (PATTERNS.code_insee.test(fixed)) {
      ctx.warn('code_insee', codeInsee, 'insee_normalised', `code INSEE ${q(codeInsee)} écrit ${q(fixed)}.`);
      codeInsee = fixed;
    } else {
      ctx.error('code_insee', codeInsee, 'pattern', `${q(codeInsee)} n'est pas un code INSEE de commune (5 caractères, par exemple 75056 ou 2A004).`);
    }
  }

  // Coordinates.
  let latitude: number | null = null;
  let longitude: number | null = null;
  let needsCoordinates = false;
  {
    const latRaw = c.latitude;
    const lonRaw = c.longitude;
    const lat = parseNumber(ctx, 'latitude', latRaw);
    const lon = parseNumber(ctx, 'longitude', lonRaw);
    if (lat === 'bad' || lon === 'bad') {
      // refused already
    } else if (lat === null && lon === null) {
      needsCoordinates = true;
    } else if (lat === null || lon === null) {
      const given = lat === null ? 'longitude' : 'latitude';
      ctx.warn(given, lat === null ? lonRaw : latRaw, 'coordinates_incomplete', `${given} fournie sans ${given === 'latitude' ? 'longitude' : 'latitude'} ; coordonnées ignorées, le lieu sera placé au centre de sa commune.`);
      needsCoordinates = true;
    } else if (lat === 0 && lon === 0) {
      ctx.warn('latitude', `${latRaw}, ${lonRaw}`, 'coordinates_zero', `coordonnées 0, 0 ignorées (valeur par défaut d'un tableur) ; le lieu sera placé au centre de sa commune.`);
      needsCoordinates = true;
    } else if (inFrance(lat, lon)) {
      latitude = lat;
      longitude = lon;
    } else if (inFrance(lon, lat)) {
      ctx.warn('latitude', `${latRaw}, ${lonRaw}`, 'coordinates_swapped', `latitude et longitude inversées (${latRaw}, ${lonRaw}) : remises dans l'ordre, latitude ${lonRaw} et longitude ${latRaw}.`);
      latitude = lon;
      longitude = lat;
    } else if (Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      const f = Math.abs(lat) > 90 ? 'latitude' : 'longitude';
      ctx.error(f, f === 'latitude' ? latRaw : lonRaw, 'coordinates_range', `${q(f === 'latitude' ? latRaw : lonRaw)} hors limites (latitude entre -90 et 90, longitude entre -180 et 180).`);
    } else {
      ctx.warn('latitude', `${latRaw}, ${lonRaw}`, 'coordinates_outside_france', `coordonnées (${latRaw}, ${lonRaw}) hors de la France et des outre-mer ; conservées, à vérifier.`);
      latitude = lat;
      longitude = lon;
    }
  }

  // Telephone.
  let telephone = (c.telephone || null);
  if (telephone !== null && !PATTERNS.telephone.test(telephone)) {
    const n = normalisePhone(telephone, codePostal);
    if (n !== null) {
      ctx.warn('telephone', telephone, 'phone_normalised', `numéro écrit au format international : ${q(telephone)} devient ${q(n)}.`);
      telephone = n;
    } else {
      ctx.warn(
        'telephone',
        telephone,
        'phone_invalid',
        `${q(telephone)} n'est pas un numéro de téléphone français reconnu (attendu : +33 suivi de 9 chiffres, ou un indicatif d'outre-mer) ; valeur ignorée.`,
      );
      telephone = null;
    }
  }

  const courriels = emails(ctx, c.courriels);
  const siteWeb: string[] = [];
  for (const item of splitMulti(ctx, 'site_web', c.site_web)) {
    const u = url(ctx, 'site_web', item);
    if (u !== null) siteWeb.push(u);
  }
  const ficheRaw = (c.fiche_acces_libre || null);
  const fiche = ficheRaw === null ? null : url(ctx, 'fiche_acces_libre', ficheRaw);
  const rdvRaw = (c.prise_rdv || null);
  const rdv = rdvRaw === null ? null : url(ctx, 'prise_rdv', rdvRaw);

  // Opening hours.
  let horaires = (c.horaires || null);
  if (horaires !== null) {
    const check = checkHours(horaires);
    if (!check.ok) {
      ctx.warn('horaires', horaires, 'hours_invalid', `horaires ${q(horaires)} illisibles au format OpenStreetMap (par exemple « Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00 ») ; ignorés.`);
      horaires = null;
    } else if (check.normalised !== undefined) {
      ctx.warn('horaires', horaires, 'hours_normalised', `horaires ${q(horaires)} écrits au format OpenStreetMap exact : ${q(check.normalised)}.`);
      horaires = check.normalised;
    }
  }

  // Date.
  let dateMaj = req.date_maj;
  if (dateMaj !== '') {
    const d = parseDate(dateMaj);
    if (d === null) ctx.error('date_maj', dateMaj, 'date', `${q(dateMaj)} n'est pas une date valide (AAAA-MM-JJ attendu, par exemple 2024-04-02).`);
    else if (d.changed) {
      ctx.warn('date_maj', dateMaj, 'date_normalised', `date ${q(dateMaj)} écrite au format ISO ${q(d.iso)}.`);
      dateMaj = d.iso;
    }
  }

  // Presentation: maxLength 280 on the summary. A longer summary moves whole into an empty
  // presentation_detail and is cut (at a word) in the summary; when the detail already holds the
  // text, only the cut is needed; otherwise the row is refused as the schema says.
  let resume = (c.presentation_resume || null);
  let detail = (c.presentation_detail || null);
  if (resume !== null && resume.length > MAX_LENGTH.presentation_resume && codePointLength(resume) > MAX_LENGTH.presentation_resume) {
    const max = MAX_LENGTH.presentation_resume;
    const len = codePointLength(resume);
    if (detail === null || detail.includes(resume)) {
      const cut = cutAtWord(resume, max);
      if (detail === null) {
        detail = resume;
        ctx.warn('presentation_resume', resume, 'max_length_moved', `résumé de ${len} caractères (280 au plus) : texte complet déplacé dans « presentation_detail », résumé coupé à ${codePointLength(cut)} caractères.`);
      } else {
        ctx.warn('presentation_resume', resume, 'max_length_cut', `résumé de ${len} caractères (280 au plus), déjà repris dans « presentation_detail » : résumé coupé à ${codePointLength(cut)} caractères.`);
      }
      resume = cut;
    } else {
      ctx.error('presentation_resume', resume, 'max_length', `résumé de ${len} caractères, 280 au plus ; raccourcissez-le (le texte long a sa place dans « presentation_detail »).`);
    }
  }

  const record: PlaceRecord = {
    id: req.id,
    pivot,
    nom: req.nom,
    commune: req.commune,
    code_postal: codePostal,
    code_insee: codeInsee,
    adresse: req.adresse,
    complement_adresse: (c.complement_adresse || null),
    latitude,
    longitude,
    typologie: typologies(ctx, c.typologie),
    telephone,
    courriels,
    site_web: dedupe(ctx, 'site_web', siteWeb),
    horaires,
    presentation_resume: resume,
    presentation_detail: detail,
    source: (c.source || null),
    itinerance: enumValues(ctx, 'itinerance', c.itinerance),
    structure_parente: (c.structure_parente || null),
    date_maj: dateMaj,
    services: enumValues(ctx, 'services', c.services),
    publics_specifiquement_adresses: enumValues(ctx, 'publics_specifiquement_adresses', c.publics_specifiquement_adresses),
    prise_en_charge_specifique: enumValues(ctx, 'prise_en_charge_specifique', c.prise_en_charge_specifique),
    frais_a_charge: enumValues(ctx, 'frais_a_charge', c.frais_a_charge),
    dispositif_programmes_nationaux: enumValues(ctx, 'dispositif_programmes_nationaux', c.dispositif_programmes_nationaux),
    formations_labels: enumValues(ctx, 'formations_labels', c.formations_labels),
    autres_formations_labels: (c.autres_formations_labels || null),
    modalites_acces: enumValues(ctx, 'modalites_acces', c.modalites_acces),
    modalites_accompagnement: enumValues(ctx, 'modalites_accompagnement', c.modalites_accompagnement),
    fiche_acces_libre: fiche,
    prise_rdv: rdv,
  };

  return {
    line: row.line,
    ...(row.item !== undefined ? { item: row.item } : {}),
    record: ctx.refused ? null : record,
    issues: ctx.issues,
    needs: { codeInsee: codeInsee === null, coordinates: needsCoordinates },
  };
}

/** Cuts text to at most `max` code points, at a word boundary when one is near, ending with « … ». */
function cutAtWord(value: string, max: number): string {
  const chars = Array.from(value);
  let cut = chars.slice(0, max - 1).join('');
  const space = cut.lastIndexOf(' ');
  if (space > max * 0.6) cut = cut.slice(0, space);
  return cut.trimEnd() + '…';
}
