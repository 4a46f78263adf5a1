/**
 * What the calls module contributes to others, registered from index.ts at start-up: the live
 * roadmap indicator « montant des subventions accordées » and the open-data section of grants
 * (SCDL « Subventions »); the labels on the place's page, as a filter of the public search and
 * map (`label=<programme>`), and in the places' standard export (`autres_formations_labels`).
 */

/**
 * Moves whenever the labelled places may change: a label event (append-only, so its greatest id
 * moves with every grant, renewal or withdrawal), a new programme, or a new day (labels expire at
 * midnight, Paris time). Places' ETags and caches include it.
 */
async function labelsVersion(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ e: string; p: string }>('SELECT (SELECT coalesce(max(id), 0) FROM calls.label_event)::text AS e, (SELECT count(*) FROM calls.label_programme)::text AS p');
  return `labels:${rows[0]!.e}.${rows[0]!.p}.${parisToday()}`;
}
import { registerOpenData } from '../../platform/opendata.ts';
import { registerIndicator, territoryKey } from '../roadmap/index.ts';
import { SCDL_THRESHOLD } from './grants.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { registerPlaceBadges, registerPlaceFilter } from '../site/index.ts';
import { registerExportContribution } from '../places/index.ts';
import { currentLabels, getProgramme, labelledPlaces, listProgrammes, parisToday } from './labels.ts';
import { frenchDate } from './pages/labels.ts';

export function registerContributions(): void {
  registerIndicator({
    id: 'calls.amount-granted',
    title: 'Montant des subventions accordées par appels à projets',
    unit: '€',
    direction: 'up',
    min: 0,
    method:
      'Somme des montants des subventions accordées (décisions « accepté » des appels à projets, après réductions à la clôture), pour la région de l’appel ou le département du dossier. Les intercommunalités et communes n’ont pas de valeur.',
    source: 'Appels à projets et subventions de la plateforme (module appels)',
    async compute({ db }, territories) {
      const byRegion = new Map<string, number>();
      const byDep = new Map<string, number>();
      const { rows } = await db.query<{ region: string; departement: string | null; total: number }>(
        `SELECT c.region, a.departement, sum(g.amount) AS total FROM calls.grant g JOIN calls.call c ON c.id = g.call_id JOIN calls.application a ON a.id = g.application_id GROUP BY c.region, a.departement`,
      );
      for (const r of rows) {
        const t = Number(r.total);
        byRegion.set(r.region, (byRegion.get(r.region) ?? 0) + t);
        if (r.departement) byDep.set(r.departement, (byDep.get(r.departement) ?? 0) + t);
      }
      return new Map(
        territories.map((t) => [territoryKey(t), t.level === 'region' ? Math.round((byRegion.get(t.code) ?? 0) * 100) / 100 : t.level === 'departement' ? Math.round((byDep.get(t.code) ?? 0) * 100) / 100 : null]),
      );
    },
  });

  // The labels a place holds today, on its public page (site's extension point).
  registerPlaceBadges({
    id: 'calls.labels',
    title: 'Labels',
    async badges(db, uids) {
      const current = await currentLabels(db, uids);
      return new Map([...current].map(([uid, list]) => [uid, list.map((l) => ({ label: l.programme.name, detail: `labellisé du ${frenchDate(l.validFrom)} au ${frenchDate(l.validUntil)}`, href: `/labels/${l.programme.slug}` }))]));
    },
  });

  // The public search and map: « Label régional » (places holding the programme's label today).
  registerPlaceFilter({
    key: 'label',
    label: 'Label régional',
    options: async (db) => (await listProgrammes(db)).map((p) => ({ value: p.slug, label: p.name })),
    async uidsFor(db, slug) {
      const p = await getProgramme(db, slug);
      return p ? (await labelledPlaces(db, p.id)).map((x) => x.placeUid) : [];
    },
    version: labelsVersion,
  });

  // The standard export: the standard has no field for regional labels but « Autres formations et
  // labels » (`autres_formations_labels`, free text): the label's name goes there.
  registerExportContribution({
    id: 'calls.labels',
    field: 'autres_formations_labels',
    async values(db) {
      const names = new Map((await listProgrammes(db)).map((p) => [p.slug, p.name]));
      const out = new Map<string, string[]>();
      for (const l of await labelledPlaces(db, null)) out.set(l.placeUid, [...(out.get(l.placeUid) ?? []), names.get(l.programme) ?? l.programme]);
      return out;
    },
    version: labelsVersion,
  });

  registerOpenData({
    id: 'labels',
    title: 'Labels des tiers-lieux',
    description: 'Les lieux de l’annuaire qui ont un label de la collectivité aujourd’hui : le label, l’identifiant du lieu et les dates de validité. L’historique (attributions, renouvellements, retraits avec leur motif) est sur la page de chaque label. Licence Ouverte / Etalab 2.0.',
    async files() {
      return [{ group: 'Labels', files: [{ label: 'Lieux labellisés aujourd’hui (CSV)', href: '/api/v1/calls/labels.csv', format: 'CSV' }, { label: 'Les labels (page)', href: '/labels', format: 'HTML' }] }];
    },
    api: ['GET /api/v1/calls/labels.csv'],
  });

  registerOpenData({
    id: 'subventions',
    title: 'Subventions des appels à projets',
    description: `Les subventions accordées par les appels à projets, au schéma SCDL « Subventions » v2.1.1 (16 champs ; « dispositifAide » nomme l’appel). Chaque ligne est validée contre le schéma avant publication ; la loi rend publiques les subventions de plus de ${SCDL_THRESHOLD.toLocaleString('fr-FR')} € : la page des subventions dit lesquelles sont publiées. Licence Ouverte / Etalab 2.0.`,
    async files() {
      return [{ group: 'Subventions (SCDL)', files: [{ label: 'Subventions au schéma SCDL v2.1.1 (CSV)', href: '/api/v1/calls/grants/scdl.csv', format: 'CSV' }, { label: 'Subventions publiées et non publiées, avec la raison (page)', href: '/appels/subventions', format: 'HTML' }] }];
    },
    api: ['GET /api/v1/calls', 'GET /api/v1/calls/{call}', 'GET /api/v1/calls/grants/scdl.csv', 'GET /api/v1/calls/grants/scdl.json'],
  });
}
