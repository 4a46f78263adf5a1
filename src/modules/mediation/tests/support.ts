/** Test helpers for the mediation module: places in the directory, mediators with profiles. */
import type { Db } from '../../../platform/db/index.ts';
import { getCommune } from '../../territories/index.ts';
import { upsertPlaces, type PlaceRecord } from '../../places/index.ts';

let n = 0;

/** Creates a directory place in a commune; returns its uid. */
export async function makePlace(db: Db, commune = '76540', name = 'Espace numérique'): Promise<string> {
  const c = await getCommune(db, commune);
  if (!c || c.lat === null || c.lon === null) throw new Error(`commune ${commune} unknown`);
  const tag = `med-${Date.now().toString(36)}-${++n}`;
  const rec: PlaceRecord = {
    id: tag, pivot: '12345678900012', nom: `${name} ${n}`, commune: c.name, code_postal: c.postalCodes[0] ?? '00000', code_insee: c.code, adresse: '1 rue du Test', complement_adresse: null,
    latitude: c.lat, longitude: c.lon, typologie: [], telephone: null, courriels: [], site_web: [], horaires: null, presentation_resume: null, presentation_detail: null,
    source: 'Test', itinerance: [], structure_parente: null, date_maj: '2024-01-15', services: [], publics_specifiquement_adresses: [], prise_en_charge_specifique: [],
    frais_a_charge: [], dispositif_programmes_nationaux: [], formations_labels: [], autres_formations_labels: null, modalites_acces: [], modalites_accompagnement: [],
    fiche_acces_libre: null, prise_rdv: null,
  } as PlaceRecord;
  await upsertPlaces(db, [rec], { source: tag });
  const { rows } = await db.query<{ uid: string }>('SELECT uid FROM places.place WHERE import_source = $1', [tag]);
  return rows[0]!.uid;
}

/** Row counts of every mediation table (to check that a refused request changed nothing). */
export async function snapshot(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['activity', 'activity_beneficiary', 'beneficiary', 'stat_counter', 'mediator', 'team']) {
    out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mediation.${t}`)).rows[0]!.n;
  }
  out.counterSum = Number((await db.query<{ s: number | null }>('SELECT coalesce(sum(value), 0)::bigint AS s FROM mediation.stat_counter')).rows[0]!.s);
  return out;
}
