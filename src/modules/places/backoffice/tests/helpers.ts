/** Shared pieces of the back-office tests: known places, a multipart form poster. */
import type { Db } from '../../../../platform/db/index.ts';
import type { PlaceRecord } from '../../model/types.ts';
import { upsertPlaces } from '../../service.ts';

export function record(p: Partial<PlaceRecord> & Pick<PlaceRecord, 'id' | 'nom'>): PlaceRecord {
  return {
    pivot: '21270229200013', commune: 'Évreux', code_postal: '27000', code_insee: '27229', adresse: '1 place Sepmanville', complement_adresse: null,
    latitude: 49.0252, longitude: 1.1513, typologie: ['BIB'], telephone: '+33232787000', courriels: ['accueil@mediatheque.example.org'], site_web: [],
    horaires: 'Mo-Fr 09:00-17:00', presentation_resume: 'Ordinateurs en libre accès.', presentation_detail: null, source: 'Tests', itinerance: [],
    structure_parente: null, date_maj: '2024-03-01', services: ['Accès internet et matériel informatique'], publics_specifiquement_adresses: [],
    prise_en_charge_specifique: [], frais_a_charge: ['Gratuit'], dispositif_programmes_nationaux: [], formations_labels: [], autres_formations_labels: null,
    modalites_acces: ['Se présenter'], modalites_accompagnement: [], fiche_acces_libre: null, prise_rdv: null,
    ...p,
  };
}

export const LYON = { commune: 'Lyon', code_postal: '69001', code_insee: '69123', latitude: 45.7676, longitude: 4.8345 };

export async function addPlace(db: Db, r: PlaceRecord, source = 'tests'): Promise<string> {
  await upsertPlaces(db, [r], { source });
  const { rows } = await db.query<{ uid: string }>('SELECT uid FROM places.place WHERE import_source = $1 AND id = $2', [source, r.id]);
  return rows[0]!.uid;
}

export { postMultipart } from '../../../../../test/support/multipart.ts';
