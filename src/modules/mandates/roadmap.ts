/**
 * What the mandates module contributes to the roadmap (registered from index.ts at start-up):
 * mandates in force and trained helpers, per région and département, as live indicators.
 */
import { registerIndicator, territoryKey } from '../roadmap/index.ts';
import { territoryCounts } from './service.ts';

export function registerRoadmapContributions(): void {
  const defs = [
    {
      id: 'mandates.active',
      title: 'Mandats d’aidants en cours',
      unit: 'mandats',
      method: 'Nombre de mandats en cours le jour du calcul (ni expirés ni révoqués), détenus par les structures d’aidants habilitées du territoire (territoire du lieu de la structure).',
      pick: (v: { activeMandates: number }) => v.activeMandates,
    },
    {
      id: 'mandates.helpers_trained',
      title: 'Aidants formés et actifs',
      unit: 'aidants',
      method: 'Nombre d’aidants actifs dont la formation est enregistrée, dans les structures habilitées du territoire (un aidant de deux structures compte deux fois).',
      pick: (v: { trainedHelpers: number }) => v.trainedHelpers,
    },
  ];
  for (const d of defs) {
    registerIndicator({
      id: d.id,
      title: d.title,
      unit: d.unit,
      direction: 'up',
      min: 0,
      method: d.method,
      source: 'Structures, aidants et mandats enregistrés dans la plateforme (module mandats)',
      async compute({ db }, territories) {
        const counts = new Map((await territoryCounts(db)).map((c) => [`${c.level}:${c.code}`, d.pick(c)]));
        return new Map(territories.map((t) => [territoryKey(t), t.level === 'region' || t.level === 'departement' ? (counts.get(territoryKey(t)) ?? 0) : null]));
      },
    });
  }
}
