/**
 * Every back-office route of the places module, with the action the permission function checks and
 * the object it checks it on — so the authorisation matrix (accounts tests, and ours) can try each
 * route with each role on an object inside and outside the role's scope.
 *
 * `seedRouteObjects` creates, in a given commune, one object of every kind the routes need: an
 * object "in scope" for a grant on that commune's département/région (or on the place itself), "out
 * of scope" for grants elsewhere.
 */
import type { Db } from '../../../platform/db/index.ts';
import type { Action } from '../../accounts/index.ts';
import { getCommune } from '../../territories/index.ts';
import { csvHeaderLine, toCsvLine } from '../model/index.ts';
import type { PlaceRecord } from '../model/types.ts';
import { importPlaces, upsertPlaces } from '../service.ts';
import { getPlaceRow } from '../store.ts';
import * as store from './store.ts';
import { versionsOf } from './service.ts';
import crypto from 'node:crypto';

export interface RouteObjects {
  /** A place (the object of place routes). */
  place: string;
  /** A second place in the same commune, a probable duplicate of `place`. */
  otherPlace: string;
  /** The département of `place` (territory routes). */
  territory: { level: 'region' | 'departement'; code: string };
  claim: number;
  pendingEdit: number;
  /** An error report on `place` (0 when none could be created). */
  report: number;
  version: number;
  run: number;
  source: string;
  /** A claim link token (claim confirmation routes are guarded by the token, not by a role). */
  token: string;
}

export interface BackofficeRoute {
  method: 'GET' | 'POST';
  path: string;
  /** permission: requirePermission(action, object); signedIn: any signed-in person; token: a secret link. */
  guard: 'permission' | 'signedIn' | 'token';
  action: Action | null;
  /** What `action` is checked on: a place (by its territory or a place grant), a territory, the platform. */
  object: 'place' | 'territory' | 'platform' | 'none';
  url(o: RouteObjects): string;
  /** A body for POST routes that passes validation (the matrix checks the permission, not the form). */
  form?: Record<string, string>;
  multipart?: boolean;
}

const T = (o: RouteObjects) => `/gestion/territoires/${o.territory.level}/${o.territory.code}`;

export const BACKOFFICE_ROUTES: BackofficeRoute[] = [
  { method: 'GET', path: '/gestion/lieux', guard: 'signedIn', action: null, object: 'none', url: () => '/gestion/lieux' },
  { method: 'GET', path: '/gestion/lieux/revendiquer', guard: 'signedIn', action: null, object: 'none', url: () => '/gestion/lieux/revendiquer?q=lieu' },
  { method: 'GET', path: '/gestion/lieux/:uid/revendiquer', guard: 'signedIn', action: null, object: 'none', url: (o) => `/gestion/lieux/${o.place}/revendiquer` },
  { method: 'POST', path: '/gestion/lieux/:uid/revendiquer', guard: 'signedIn', action: null, object: 'none', url: (o) => `/gestion/lieux/${o.place}/revendiquer`, form: { method: 'staff', message: 'Je suis la responsable de ce lieu.' } },
  { method: 'GET', path: '/gestion/revendications/confirmer/:token', guard: 'token', action: null, object: 'none', url: (o) => `/gestion/revendications/confirmer/${o.token}` },
  { method: 'POST', path: '/gestion/revendications/confirmer/:token', guard: 'token', action: null, object: 'none', url: (o) => `/gestion/revendications/confirmer/${o.token}`, form: {} },

  { method: 'GET', path: '/gestion/lieux/:uid', guard: 'permission', action: 'places.edit', object: 'place', url: (o) => `/gestion/lieux/${o.place}` },
  { method: 'GET', path: '/gestion/lieux/:uid/modifier', guard: 'permission', action: 'places.edit', object: 'place', url: (o) => `/gestion/lieux/${o.place}/modifier` },
  { method: 'POST', path: '/gestion/lieux/:uid/modifier', guard: 'permission', action: 'places.edit', object: 'place', url: (o) => `/gestion/lieux/${o.place}/modifier`, form: {} },
  { method: 'GET', path: '/gestion/lieux/:uid/horaires', guard: 'permission', action: 'places.edit', object: 'place', url: (o) => `/gestion/lieux/${o.place}/horaires` },
  { method: 'POST', path: '/gestion/lieux/:uid/horaires', guard: 'permission', action: 'places.edit', object: 'place', url: (o) => `/gestion/lieux/${o.place}/horaires`, form: { mode: 'editor', Mo_1_from: '09:00', Mo_1_to: '12:00' } },
  { method: 'GET', path: '/gestion/lieux/:uid/versions', guard: 'permission', action: 'places.history', object: 'place', url: (o) => `/gestion/lieux/${o.place}/versions` },
  { method: 'GET', path: '/gestion/lieux/:uid/versions/:version', guard: 'permission', action: 'places.history', object: 'place', url: (o) => `/gestion/lieux/${o.place}/versions/${o.version}` },
  { method: 'POST', path: '/gestion/lieux/:uid/versions/:version/restaurer', guard: 'permission', action: 'places.history', object: 'place', url: (o) => `/gestion/lieux/${o.place}/versions/${o.version}/restaurer`, form: {} },

  { method: 'GET', path: '/gestion/lieux/:uid/gestionnaires', guard: 'permission', action: 'places.managers.manage', object: 'place', url: (o) => `/gestion/lieux/${o.place}/gestionnaires` },
  { method: 'POST', path: '/gestion/lieux/:uid/gestionnaires', guard: 'permission', action: 'places.managers.manage', object: 'place', url: (o) => `/gestion/lieux/${o.place}/gestionnaires`, form: { email: 'pas-une-adresse', displayName: 'Matrice' } },
  { method: 'POST', path: '/gestion/lieux/:uid/gestionnaires/retirer', guard: 'permission', action: 'places.managers.manage', object: 'place', url: (o) => `/gestion/lieux/${o.place}/gestionnaires/retirer`, form: { user: '00000000-0000-4000-8000-000000000000' } },

  { method: 'GET', path: '/gestion/territoires/:level/:code', guard: 'permission', action: 'territory.dashboard', object: 'territory', url: (o) => T(o) },
  { method: 'GET', path: '/gestion/territoires/:level/:code/lieux', guard: 'permission', action: 'territory.dashboard', object: 'territory', url: (o) => `${T(o)}/lieux?anciens=1` },
  { method: 'GET', path: '/gestion/territoires/:level/:code/revendications', guard: 'permission', action: 'places.claims.review', object: 'territory', url: (o) => `${T(o)}/revendications` },
  { method: 'POST', path: '/gestion/revendications/:id/decision', guard: 'permission', action: 'places.claims.review', object: 'place', url: (o) => `/gestion/revendications/${o.claim}/decision`, form: { decision: 'reject' } },
  { method: 'GET', path: '/gestion/territoires/:level/:code/moderation', guard: 'permission', action: 'places.moderate', object: 'territory', url: (o) => `${T(o)}/moderation` },
  { method: 'POST', path: '/gestion/territoires/:level/:code/moderation/reglage', guard: 'permission', action: 'places.moderate', object: 'territory', url: (o) => `${T(o)}/moderation/reglage`, form: { moderated: 'off' } },
  { method: 'GET', path: '/gestion/modifications/:id', guard: 'permission', action: 'places.moderate', object: 'place', url: (o) => `/gestion/modifications/${o.pendingEdit}` },
  { method: 'POST', path: '/gestion/modifications/:id/decision', guard: 'permission', action: 'places.moderate', object: 'place', url: (o) => `/gestion/modifications/${o.pendingEdit}/decision`, form: { decision: 'reject' } },
  { method: 'GET', path: '/gestion/territoires/:level/:code/signalements', guard: 'permission', action: 'places.reports.review', object: 'territory', url: (o) => `${T(o)}/signalements` },
  { method: 'POST', path: '/gestion/signalements/:id/etat', guard: 'permission', action: 'places.reports.review', object: 'place', url: (o) => `/gestion/signalements/${o.report}/etat`, form: { status: 'in_progress' } },
  { method: 'GET', path: '/gestion/territoires/:level/:code/doublons', guard: 'permission', action: 'places.duplicates.review', object: 'territory', url: (o) => `${T(o)}/doublons` },
  { method: 'GET', path: '/gestion/doublons/:a/:b', guard: 'permission', action: 'places.duplicates.review', object: 'place', url: (o) => `/gestion/doublons/${o.place}/${o.otherPlace}` },
  { method: 'POST', path: '/gestion/doublons/:a/:b/pas-un-doublon', guard: 'permission', action: 'places.duplicates.review', object: 'place', url: (o) => `/gestion/doublons/${o.place}/${o.otherPlace}/pas-un-doublon`, form: {} },
  { method: 'POST', path: '/gestion/doublons/:a/:b/fusion', guard: 'permission', action: 'places.duplicates.review', object: 'place', url: (o) => `/gestion/doublons/${o.place}/${o.otherPlace}/fusion`, form: { keep: 'a' } },
  { method: 'GET', path: '/gestion/territoires/:level/:code/import', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import` },
  { method: 'POST', path: '/gestion/territoires/:level/:code/import', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import`, form: { source: 'matrice' }, multipart: true },
  { method: 'POST', path: '/gestion/territoires/:level/:code/import/confirmer', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/confirmer`, form: { upload: '0'.repeat(32) } },
  { method: 'POST', path: '/gestion/territoires/:level/:code/import/correspondance', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/correspondance`, form: { mappingSource: 'matrice' }, multipart: true },
  { method: 'GET', path: '/gestion/territoires/:level/:code/import/correspondance/:upload', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/correspondance/${'0'.repeat(32)}` },
  { method: 'POST', path: '/gestion/territoires/:level/:code/import/correspondance/:upload', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/correspondance/${'0'.repeat(32)}`, form: { action: 'preview' } },
  { method: 'GET', path: '/gestion/territoires/:level/:code/import/:run', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/${o.run}` },
  { method: 'POST', path: '/gestion/territoires/:level/:code/import/:run/annuler', guard: 'permission', action: 'places.import', object: 'territory', url: (o) => `${T(o)}/import/${o.run}/annuler`, form: {} },

  { method: 'GET', path: '/gestion/sources', guard: 'permission', action: 'sources.manage', object: 'platform', url: () => '/gestion/sources' },
  { method: 'POST', path: '/gestion/sources', guard: 'permission', action: 'sources.manage', object: 'platform', url: () => '/gestion/sources', form: { name: 'matrice-nouvelle', label: 'Matrice' } },
  { method: 'GET', path: '/gestion/sources/:name', guard: 'permission', action: 'sources.manage', object: 'platform', url: (o) => `/gestion/sources/${encodeURIComponent(o.source)}` },
  { method: 'POST', path: '/gestion/sources/:name', guard: 'permission', action: 'sources.manage', object: 'platform', url: (o) => `/gestion/sources/${encodeURIComponent(o.source)}`, form: { label: 'Matrice' } },
  { method: 'POST', path: '/gestion/sources/:name/correspondance', guard: 'permission', action: 'sources.manage', object: 'platform', url: (o) => `/gestion/sources/${encodeURIComponent(o.source)}/correspondance`, form: {}, multipart: true },
  { method: 'POST', path: '/gestion/sources/:name/correspondance/retirer', guard: 'permission', action: 'sources.manage', object: 'platform', url: (o) => `/gestion/sources/${encodeURIComponent(o.source)}/correspondance/retirer`, form: {} },
];

/**
 * Creates one object of every kind in a commune (its département is the territory). `userId` is the
 * person behind the claim and the pending edit; `createReport` (from the site module) adds an error
 * report on the place. Call it once per scope the matrix needs (an in-scope and an out-of-scope commune).
 */
export async function seedRouteObjects(
  db: Db,
  o: { commune: string; userId: string; tag: string; createReport?: (placeUid: string) => Promise<number> },
): Promise<RouteObjects> {
  const c = await getCommune(db, o.commune);
  if (!c || c.lat === null || c.lon === null) throw new Error(`seedRouteObjects: commune ${o.commune} unknown or without centre`);
  const base = (id: string, nom: string, dLat: number): PlaceRecord => ({
    id, pivot: '12345678900012', nom, commune: c.name, code_postal: '00000', code_insee: c.code, adresse: '1 rue de la Matrice', complement_adresse: null,
    latitude: c.lat! + dLat, longitude: c.lon!, typologie: [], telephone: null, courriels: [`contact-${o.tag}@example.org`], site_web: [], horaires: null,
    presentation_resume: null, presentation_detail: null, source: 'Matrice', itinerance: [], structure_parente: null, date_maj: '2024-01-15', services: [],
    publics_specifiquement_adresses: [], prise_en_charge_specifique: [], frais_a_charge: [], dispositif_programmes_nationaux: [], formations_labels: [],
    autres_formations_labels: null, modalites_acces: [], modalites_accompagnement: [], fiche_acces_libre: null, prise_rdv: null,
  });
  const source = `matrice-${o.tag}`;
  const records = [base(`${o.tag}-a`, `Espace numérique Matrice ${o.tag}`, 0), base(`${o.tag}-b`, `Espace numerique Matrice ${o.tag}`, 0.0002)];
  await upsertPlaces(db, records, { source });
  const { rows } = await db.query<{ uid: string; id: string }>('SELECT uid, id FROM places.place WHERE import_source = $1 ORDER BY id', [source]);
  const [a, b] = [rows[0]!.uid, rows[1]!.uid];
  const place = (await getPlaceRow(db, a))!;
  const versions = await versionsOf(db, a);
  const token = crypto.randomBytes(32).toString('base64url');
  const claim = await store.insertClaim(db, { placeUid: a, userId: o.userId, method: 'email', email: place.courriels[0]!, tokenHash: crypto.createHash('sha256').update(token).digest('hex'), message: null, expiresMinutes: 60 });
  const pending = await store.insertPendingEdit(db, { placeUid: a, baseVersion: versions[0]!.version, record: { ...records[0]!, nom: `${records[0]!.nom} (modifié)` }, kind: 'edit', submittedBy: o.userId });
  await store.upsertSource(db, { name: source, label: `Matrice ${o.tag}`, producer: null, contact: null, url: null, territories: [`departement:${place.departement ?? c.departement}`] });
  const report = await importPlaces(db, Buffer.from(csvHeaderLine() + toCsvLine(records[0]!)), { importSource: source, actor: 'matrice', fileName: 'matrice.csv' });
  return {
    place: a,
    otherPlace: b,
    territory: { level: 'departement', code: place.departement ?? c.departement },
    claim: claim.id,
    pendingEdit: pending.id,
    report: o.createReport ? await o.createReport(a) : 0,
    version: versions[0]!.version,
    run: report.runId ?? 0,
    source,
    token,
  };
}
