/**
 * The places module's audit actions in French, and how the journal names and links places and
 * sources (see src/platform/audit/wording.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { count, field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';

async function describePlaces(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const uuids = uuidsIn(ids);
  const { rows } = await db.query<{ uid: string; nom: string; region: string | null; departement: string | null; commune_code: string | null }>(
    'SELECT uid, nom, region, departement, commune_code FROM places.place WHERE uid = ANY($1::uuid[])',
    [uuids],
  );
  return new Map(rows.map((r) => [r.uid, { label: r.nom, href: `/gestion/lieux/${r.uid}`, region: r.region, departement: r.departement, commune: r.commune_code }]));
}

async function describeSources(_db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  return new Map(ids.map((id) => [id, { label: id, href: `/gestion/sources/${encodeURIComponent(id)}` }]));
}

const TERRITORY_LEVEL: Record<string, string> = { region: 'la région', departement: 'le département' };

export const placesAudit: AuditVocabulary = {
  label: 'Lieux',
  objects: {
    place: { noun: 'le lieu', describe: describePlaces, readAction: 'places.history' },
    source: { noun: 'la source', describe: describeSources, readAction: 'sources.manage' },
    import_run: { noun: 'l’import n°', quote: false, showId: true, readAction: 'places.import' },
    error_report: { noun: 'le signalement n°', quote: false, showId: true, readAction: 'places.reports.review' },
    territory: { noun: 'le territoire', quote: false, showId: true },
  },
  actions: {
    'places.update': 'a modifié la fiche de {objet}',
    'places.restore': (e, ref) => ['a restauré une version antérieure (n° ', String(field(e.meta, 'version') ?? '?'), ') de la fiche de ', ref('place', e.objectId)],
    'places.edit.submit': 'a proposé une modification de la fiche de {objet} (en attente de modération)',
    'places.edit.approve': 'a validé une modification proposée de la fiche de {objet}',
    'places.edit.reject': 'a refusé une modification proposée de la fiche de {objet}',
    'places.moderation.setting': (e) => {
      const [level, code] = String(e.objectId ?? '').split(':');
      return [field(e.after, 'moderated') ? 'a soumis à modération les modifications des lieux de ' : 'a levé la modération des modifications des lieux de ', `${TERRITORY_LEVEL[level ?? ''] ?? 'territoire'} ${code ?? ''}`];
    },
    'places.claim.create': 'a demandé à gérer {objet}',
    'places.claim.verify': 'a confirmé par e-mail une demande de gestion de {objet}',
    'places.claim.approve': 'a accepté une demande de gestion de {objet}',
    'places.claim.reject': 'a refusé une demande de gestion de {objet}',
    'places.merge': (e, ref) => ['a fusionné ', ref('place', e.objectId), ' avec ', ref('place', field(field(e.after, 'drop'), 'uid'))],
    'places.duplicate.dismiss': (e, ref) => {
      const pair = field(e.after, 'pair');
      const [a, b] = Array.isArray(pair) ? pair : [e.objectId, null];
      return ['a indiqué que ', ref('place', a), ' et ', ref('place', b), ' ne sont pas des doublons'];
    },
    'places.source.create': 'a créé {objet}',
    'places.source.update': 'a modifié la description de {objet}',
    'places.source.mapping': 'a modifié la correspondance des colonnes de {objet}',
    'places.report.status': (e, ref) => ['a traité ', ref('error_report', e.objectId), ' sur ', ref('place', field(e.meta, 'place'))],
    'places.import': (e, ref) => [
      'a importé ',
      count(field(e.after, 'records'), 'fiche', 'fiches'),
      ' de ',
      ref('source', field(e.after, 'source')),
      ` (${count(field(e.after, 'inserted'), 'ajoutée', 'ajoutées')}, ${count(field(e.after, 'updated'), 'modifiée', 'modifiées')}, ${count(field(e.after, 'refused'), 'refusée', 'refusées')}) — `,
      ref('import_run', e.objectId),
    ],
    'places.import.undo': 'a annulé {objet} (lieux retirés restaurés)',
  },
};
