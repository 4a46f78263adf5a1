/** Shared builders for the places tests. */
import type { PlaceRecord } from '../model/types.ts';

export function place(overrides: Partial<PlaceRecord> = {}): PlaceRecord {
  return {
    id: 'p-1',
    pivot: '21270229400017',
    nom: 'Médiathèque Rolland-Plaisance',
    commune: 'Évreux',
    code_postal: '27000',
    code_insee: '27229',
    adresse: '9 rue de la Harpe',
    complement_adresse: null,
    latitude: 49.0241,
    longitude: 1.1508,
    typologie: ['BIB'],
    telephone: '+33232787400',
    courriels: ['mediatheque@evreux.example.org'],
    site_web: [],
    horaires: 'Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00',
    presentation_resume: 'Ateliers numériques et accès libre aux ordinateurs.',
    presentation_detail: null,
    source: 'Ville d’Évreux',
    itinerance: ['Fixe'],
    structure_parente: null,
    date_maj: '2026-10-01',
    services: ['Accès internet et matériel informatique', 'Maîtrise des outils numériques du quotidien'],
    publics_specifiquement_adresses: [],
    prise_en_charge_specifique: [],
    frais_a_charge: ['Gratuit'],
    dispositif_programmes_nationaux: [],
    formations_labels: [],
    autres_formations_labels: null,
    modalites_acces: ['Se présenter'],
    modalites_accompagnement: ['Accompagnement individuel'],
    fiche_acces_libre: null,
    prise_rdv: null,
    ...overrides,
  };
}

export const HEADER =
  'id,pivot,nom,commune,code_postal,code_insee,adresse,complement_adresse,latitude,longitude,typologie,telephone,courriels,site_web,horaires,presentation_resume,presentation_detail,source,itinerance,structure_parente,date_maj,services,publics_specifiquement_adresses,prise_en_charge_specifique,frais_a_charge,dispositif_programmes_nationaux,formations_labels,autres_formations_labels,modalites_acces,modalites_accompagnement,fiche_acces_libre,prise_rdv';

/** One CSV line with the required fields and a few others; every other column empty. */
export function csvLine(v: { id: string; nom: string; pivot?: string; commune?: string; cp?: string; insee?: string; adresse?: string; lat?: string; lon?: string; services?: string; date?: string; horaires?: string; frais?: string }): string {
  const cols = HEADER.split(',');
  const values: Record<string, string> = {
    id: v.id,
    pivot: v.pivot ?? '21270229400017',
    nom: v.nom,
    commune: v.commune ?? 'Évreux',
    code_postal: v.cp ?? '27000',
    code_insee: v.insee ?? '27229',
    adresse: v.adresse ?? '1 place du Général de Gaulle',
    latitude: v.lat ?? '49.0241',
    longitude: v.lon ?? '1.1508',
    date_maj: v.date ?? '2026-09-30',
    services: v.services ?? 'Aide aux démarches administratives',
    horaires: v.horaires ?? '',
    frais_a_charge: v.frais ?? '',
  };
  return cols.map((c) => {
    const x = values[c] ?? '';
    return /[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x;
  }).join(',');
}
