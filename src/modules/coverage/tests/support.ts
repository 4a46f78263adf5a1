/** Builders for the coverage tests: place records of the standard, and their CSV form. */
import type { PlaceRecord } from '../../places/index.ts';
export { geometryStatus, getCommune as getCommuneForTest } from '../../territories/index.ts';

export function placeRecord(overrides: Partial<PlaceRecord> = {}): PlaceRecord {
  return {
    id: 'p-1',
    pivot: '21270229400017',
    nom: 'Lieu de test',
    commune: 'Évreux',
    code_postal: '27000',
    code_insee: '27229',
    adresse: '1 place du Général de Gaulle',
    complement_adresse: null,
    latitude: 49.0241,
    longitude: 1.1508,
    typologie: [],
    telephone: null,
    courriels: [],
    site_web: [],
    horaires: null,
    presentation_resume: null,
    presentation_detail: null,
    source: null,
    itinerance: [],
    structure_parente: null,
    date_maj: '2026-10-01',
    services: ['Accès internet et matériel informatique'],
    publics_specifiquement_adresses: [],
    prise_en_charge_specifique: [],
    frais_a_charge: [],
    dispositif_programmes_nationaux: [],
    formations_labels: [],
    autres_formations_labels: null,
    modalites_acces: [],
    modalites_accompagnement: [],
    fiche_acces_libre: null,
    prise_rdv: null,
    ...overrides,
  };
}

/** Records as a CSV file of the standard (multi-valued fields joined with "|"). */
export function recordsCsv(records: PlaceRecord[]): Buffer {
  const columns = Object.keys(placeRecord()) as (keyof PlaceRecord)[];
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join('|') : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return Buffer.from([columns.join(','), ...records.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n');
}
